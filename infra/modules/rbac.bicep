// Every role the app's identity holds, each scoped to the one resource it is needed on, and the
// same roles for the deploying principal (principalId, optional) so a local run against Azure
// follows the same rules. Data-plane roles only: nothing at resource-group or subscription scope,
// no management-plane Owner/Contributor, nothing that can list keys.

@description('Principal id of the app\'s user-assigned identity.')
param identityPrincipalId string

@description('Object id of the deploying user or service principal. Empty: no grants.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

param storageAccountName string
param keyVaultName string
param applicationInsightsName string

@description('Name of the Azure OpenAI account created by this template. Empty: none created.')
param openAiAccountName string = ''

// Storage Blob Data Owner: the Functions host's documented minimum on AzureWebJobsStorage (key
// store in azure-webjobs-secrets, timer-trigger singleton locks, container creation); Durable
// itself needs only Blob Data Contributor (task hub leases and large payloads), which Owner
// contains. The same assignment serves the app's own clients on `reports` and `cache`: a
// separate container-scoped Blob Data Contributor would add nothing. It also carries
// Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action at account
// scope, which is where Get User Delegation Key must be granted, so the user delegation SAS
// needs no `Storage Blob Delegator` (db58b8e5-c6ad-4a2a-8342-4190687cbf4a). That role would be
// needed only if blob data roles were scoped to containers (as a separate app-only identity
// would have them: Blob Data Contributor on `reports` and `cache` + Delegator on the account).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
// Storage Queue Data Contributor: Durable's control and work-item queues.
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
// Storage Table Data Contributor: Durable's History and Instances tables and the `analyses` table.
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
// Key Vault Secrets User: read secret values, so the platform can resolve Key Vault references.
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
// Monitoring Metrics Publisher: Entra ID ingestion into Application Insights with local auth off.
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'
// Cognitive Services OpenAI User: call the deployments (inference), nothing to manage.
var cognitiveServicesOpenAiUser = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'

var app = [
  {
    id: identityPrincipalId
    type: 'ServicePrincipal'
  }
]
var principals = empty(principalId) ? app : concat(app, [
  {
    id: principalId
    type: principalType
  }
])

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource openAi 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = if (!empty(openAiAccountName)) {
  name: openAiAccountName
}

resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for p in principals: {
  name: guid(storage.id, p.id, storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: p.id
    principalType: p.type
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
  }
}]

resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for p in principals: {
  name: guid(storage.id, p.id, storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: p.id
    principalType: p.type
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
  }
}]

resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for p in principals: {
  name: guid(storage.id, p.id, storageTableDataContributor)
  scope: storage
  properties: {
    principalId: p.id
    principalType: p.type
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
  }
}]

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for p in principals: {
  name: guid(vault.id, p.id, keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: p.id
    principalType: p.type
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}]

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for p in principals: {
  name: guid(applicationInsights.id, p.id, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: p.id
    principalType: p.type
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}]

resource openAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for p in principals: if (!empty(openAiAccountName)) {
  name: guid(openAi.id, p.id, cognitiveServicesOpenAiUser)
  scope: openAi
  properties: {
    principalId: p.id
    principalType: p.type
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesOpenAiUser)
  }
}]
