// Key Vault in RBAC mode for the third-party keys (and the stats admin key). A secret is created
// only when its value is given; the app settings then carry
// `@Microsoft.KeyVault(SecretUri=...)` references (main.bicep) that the platform resolves with
// the app's user-assigned identity (`Key Vault Secrets User`, rbac.bicep).
// A reference is the vault URI plus a secret name, so the names below and those in main.bicep
// must agree: tests/infra checks that each reference names a secret made under the same
// condition.

param name string
param location string
param tags object = {}

@secure()
@description('OpenAI API key (LLM_PROVIDER=openai). Empty: no secret.')
param openAiApiKey string = ''

@secure()
@description('Azure OpenAI API key for an existing endpoint. Empty: Entra ID is used instead.')
param azureOpenAiApiKey string = ''

@secure()
@description('Firecrawl API key (NEWS_PROVIDER=firecrawl). Empty: no secret.')
param firecrawlApiKey string = ''

@secure()
@description('Admin key of the stats endpoint. Empty: no secret.')
param statsAdminKey string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109:no VNet: Key Vault references are resolved by the platform over the public endpoint, which a firewall would block (App Service is not a trusted service for them)
  // checkov:skip=CKV_AZURE_189:same as CKV_AZURE_109; access is by Entra ID and RBAC only
  // checkov:skip=CKV_AZURE_110:purge protection would block `azd down --purge` and so the next `azd up` of the same environment for the retention period; the vault holds re-issuable third-party keys only
  // checkov:skip=CKV_AZURE_42:needs purge protection (see CKV_AZURE_110); soft delete is on (7 days)
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true // access by role assignment only; no access policies
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // enablePurgeProtection is left unset (off; ARM refuses an explicit false) so that
    // `azd down --purge` frees the name for the next `azd up` of the same environment
    // (see infra/checkov-skips.md).
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Every secret the app can read, by the name main.bicep builds its reference from.
var secrets = [
  {
    name: 'openai-api-key'
    value: openAiApiKey
  }
  {
    name: 'azure-openai-api-key'
    value: azureOpenAiApiKey
  }
  {
    name: 'firecrawl-api-key'
    value: firecrawlApiKey
  }
  {
    name: 'stats-admin-key'
    value: statsAdminKey
  }
]

// Only the secrets that were given.
resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for s in secrets: if (!empty(s.value)) {
  // checkov:skip=CKV_AZURE_41:the key's lifetime is set by its provider; a vault expiry would blank the app setting while the key still works. Rotate by provisioning the new value
  parent: vault
  name: s.name
  properties: {
    value: s.value
    contentType: 'text/plain'
  }
}]

output id string = vault.id
output name string = vault.name
// Ends with '/': a reference is '${vaultUri}secrets/<name>' (no version: rotation is picked up).
output vaultUri string = vault.properties.vaultUri
