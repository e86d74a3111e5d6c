// One storage account for everything: the Functions host and the Durable task hub
// (AzureWebJobsStorage), the app's own data (`reports` and `cache` containers, `analyses` table;
// names from shared/settings.py) and the Flex Consumption deployment package.
// No keys: shared-key authorization is off, so only Entra ID (RBAC) requests are accepted.
// Child resources are declared at the top level with `parent:`.

param name string
param location string
param tags object = {}

@description('Blob container the Flex Consumption platform deploys the app package from.')
param deploymentContainerName string

@description('Soft-delete window for blobs and containers, in days.')
@minValue(1)
@maxValue(365)
param softDeleteDays int = 7

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:no VNet in this template: the Flex app reaches storage over the public endpoint; shared keys are off, so every request needs an Entra ID token and a data role
  // checkov:skip=CKV_AZURE_59:same as CKV_AZURE_35: public endpoint needed without VNet integration; Entra ID only
  // checkov:skip=CKV_AZURE_206:LRS on purpose: single-region app, memos can be regenerated, geo-replication would double the storage bill
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false // no account key, no key-based SAS, no connection string with a key
    allowBlobPublicAccess: false // no container can be made anonymous
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // No VNet in this template: the Flex app reaches storage over the public endpoint, and
    // every request must carry an Entra ID token (see infra/checkov-skips.md).
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

// Memos, evidence and work blobs: private; readers get a short user delegation SAS.
resource reportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'reports'
  properties: {
    publicAccess: 'None'
  }
}

// The shared benchmark snapshot and LLM answers: private.
resource cacheContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'cache'
  properties: {
    publicAccess: 'None'
  }
}

// Flex Consumption reads the deployment package from here (functionAppConfig.deployment).
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// Jobs, one row per analysis.
resource analysesTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: 'analyses'
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output tableEndpoint string = storage.properties.primaryEndpoints.table
output deploymentContainerName string = deploymentContainer.name
