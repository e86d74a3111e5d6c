// Optional Azure OpenAI account with one model deployment (main.bicep: createAzureOpenAi).
// Local (key) auth is off: the app reaches it with Entra ID through its identity, which holds
// `Cognitive Services OpenAI User` on this account (rbac.bicep).

param name string
param location string
param tags object = {}
param deploymentName string
param modelName string
param modelVersion string

@description('Deployment SKU, e.g. GlobalStandard or Standard.')
param skuName string = 'GlobalStandard'

@description('Capacity in thousands of tokens per minute.')
@minValue(1)
param capacity int = 10

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  // checkov:skip=CKV_AZURE_134:no VNet: the Flex app calls the public endpoint; local auth is off, so only Entra ID tokens with Cognitive Services OpenAI User are accepted
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    customSubDomainName: name // Entra ID tokens need the custom subdomain endpoint
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
    }
  }
}

resource deployment 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: deploymentName
  sku: {
    name: skuName
    capacity: capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: modelName
      version: modelVersion
    }
  }
}

output name string = account.name
output endpoint string = account.properties.endpoint
output deploymentName string = deployment.name
