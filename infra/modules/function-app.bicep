// The Flex Consumption plan and the Python 3.13 function app, running as the user-assigned
// identity for everything: host storage, the deployment package, Key Vault references and
// Application Insights ingestion. App Service Authentication is a child resource declared at
// the top level with `parent:`.

param name string
param planName string
param location string
param tags object = {}

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity.')
param identityClientId string

param storageAccountName string
param deploymentContainerName string
param applicationInsightsConnectionString string

@description('App settings of the app itself (shared/settings.py), Key Vault references included.')
param appSettings object

@allowed([
  'none'
  'easyauth'
])
param authMode string = 'none'

@description('Application (client) id of the Entra ID app registration that callers get tokens for (authMode easyauth).')
param authClientId string = ''

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

var easyAuth = authMode == 'easyauth'

// No FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION or WEBSITE_RUN_FROM_PACKAGE: Flex
// Consumption takes the runtime from functionAppConfig and rejects those settings.
var platformSettings = {
  // Host and Durable storage by identity: account name + managed identity, never a key.
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // DefaultAzureCredential (the Azure OpenAI client) picks the user-assigned identity from this.
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225:zone redundancy is not offered for Flex Consumption in every region this template targets; opt in per region
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true // Linux
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222:a public HTTP API by design; every route needs a function key, and an Entra ID token under easyauth
  // checkov:skip=CKV_AZURE_17:callers authenticate with function keys or Entra ID bearer tokens, not client certificates
  // checkov:skip=CKV_AZURE_212:numberOfWorkers does not apply to Flex Consumption, which scales per function (maximumInstanceCount)
  // checkov:skip=CKV_AZURE_213:Flex Consumption manages instance health and scales to zero; a per-minute platform probe of every instance is not needed, /api/health serves external monitors
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references resolve with this identity (the default would be a system-assigned
    // identity, which this app does not have).
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // The whole collection is written on each deployment: a setting missing here is removed.
      appSettings: [for setting in items(union(appSettings, platformSettings)): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.13'
      }
    }
  }
}

// App Service Authentication, on when AUTH_MODE=easyauth: a request without a valid Entra ID
// token for `authClientId` gets 401 before it reaches the app, which then reads the caller from
// the X-MS-CLIENT-PRINCIPAL headers the platform adds. Always declared, switched by
// `platform.enabled`: a resource-level `if` would leave an earlier deployment's Easy Auth in
// place (incremental mode deletes nothing) after a switch back to `none`.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13:the check reads v1 `authsettings` (properties.enabled); this is authsettingsV2, enabled by platform.enabled under easyauth (asserted in tests/infra)
  // checkov:skip=CKV_AZURE_63:false positive: site-config check applied to the authsettingsV2 resource
  // checkov:skip=CKV_AZURE_65:false positive: site-config check applied to the authsettingsV2 resource
  // checkov:skip=CKV_AZURE_66:false positive: site-config check applied to the authsettingsV2 resource
  // checkov:skip=CKV_AZURE_80:false positive: site-config check applied to the authsettingsV2 resource (and no .NET here)
  // checkov:skip=CKV_AZURE_88:false positive: site-config check applied to the authsettingsV2 resource (and Flex mounts no Azure Files)
  // checkov:skip=CKV_AZURE_222:false positive: site-config check applied to the authsettingsV2 resource
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: easyAuth
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: easyAuth
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: easyAuth ? [
            authClientId
            'api://${authClientId}'
          ] : []
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
}

// Basic-auth (publishing profile) deployment off: `azd deploy` publishes with an Entra ID token.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
