// stockmemo on Azure: a Flex Consumption Python 3.13 Durable Functions app that reaches
// everything with one user-assigned identity. No account keys anywhere: storage refuses shared
// keys, Application Insights refuses instrumentation-key ingestion, the third-party API keys live
// in Key Vault and reach the app as Key Vault references.
// `azd up` fills environmentName, location and principalId from main.parameters.json.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the resource group and the resource names.')
param environmentName string

@minLength(1)
@description('Region of every resource; it must offer the Flex Consumption plan.')
param location string

@description('Object id of the deploying user or service principal; it gets the same data roles as the app so local runs against Azure follow the same rules. Empty: no grants.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

// ---- The app's settings (shared/settings.py) ----

// history: real daily closes from the price store (the `prices` container), filled with
// `python -m stockmemo history load --sample | --csv FILE` against this storage account.
@allowed([
  'simulated'
  'yfinance'
  'history'
])
param marketDataProvider string = 'simulated'

@allowed([
  'none'
  'firecrawl'
  'yfinance'
])
param newsProvider string = 'none'

@allowed([
  'offline'
  'openai'
  'azure_openai'
])
param llmProvider string = 'offline'

@minValue(1)
param jobDeadlineSeconds int = 600

@minValue(1)
param analysesPerHour int = 60

@minValue(1)
param llmTokenBudget int = 20000

@description('Most distinct tickers one batch may hold (one admission transaction holds them all).')
@minValue(2)
@maxValue(96)
param batchMaxTickers int = 25

@description('How many children of one batch run at once.')
@minValue(1)
param batchConcurrency int = 5

@minValue(1)
param activityMaxAttempts int = 3

@minValue(1)
param activityRetryFirstMs int = 2000

@description('none: function keys only. easyauth: App Service Authentication with Entra ID in front of every route.')
@allowed([
  'none'
  'easyauth'
])
param authMode string = 'none'

@description('Application (client) id of the Entra ID app registration callers get tokens for; required when authMode is easyauth.')
param authClientId string = ''

@minValue(1)
param retentionDays int = 90

@description('NCRONTAB schedule (six fields, UTC) of the retention sweep.')
param retentionCron string = '0 30 3 * * *'

@description('Durable task hub; the same name as host.json so local and Azure histories are not mixed up by accident.')
param taskHubName string = 'StockMemoHub'

@description('Model name for LLM_PROVIDER=openai.')
param openAiModel string = 'gpt-4o-mini'

@description('OpenAI-compatible base URL for LLM_PROVIDER=openai. Empty: api.openai.com.')
param openAiBaseUrl string = ''

param openAiApiVersion string = '2024-10-21'

@description('Firecrawl API URL. Empty: the hosted service.')
param firecrawlApiUrl string = ''

// ---- Azure OpenAI: an existing endpoint, or one created here ----

@description('Create an Azure OpenAI account and deployment (Entra ID only). False: use azureOpenAiEndpoint.')
param createAzureOpenAi bool = false

@description('Endpoint of an existing Azure OpenAI resource (createAzureOpenAi false). Grant the app identity `Cognitive Services OpenAI User` on it, or give azureOpenAiApiKey.')
param azureOpenAiEndpoint string = ''

@description('Deployment name: the existing one, or the one to create.')
param azureOpenAiDeployment string = 'gpt-4o-mini'

param azureOpenAiModelName string = 'gpt-4o-mini'
param azureOpenAiModelVersion string = '2024-07-18'

@minValue(1)
param azureOpenAiCapacity int = 10

@description('Region of the created Azure OpenAI account (model availability differs by region).')
param azureOpenAiLocation string = location

// ---- Secrets: optional, stored in Key Vault, referenced from app settings ----

@secure()
@description('OpenAI API key (LLM_PROVIDER=openai).')
param openAiApiKey string = ''

@secure()
@description('Azure OpenAI API key for an existing endpoint. Empty: Entra ID. Ignored when createAzureOpenAi (local auth is off there).')
param azureOpenAiApiKey string = ''

@secure()
@description('Firecrawl API key (NEWS_PROVIDER=firecrawl).')
param firecrawlApiKey string = ''

@secure()
@description('Admin key of the stats endpoint (STATS_ADMIN_KEY).')
param statsAdminKey string = ''

// ---- Scale ----

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-api-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var azureOpenAiKey = createAzureOpenAi ? '' : azureOpenAiApiKey

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    openAiApiKey: openAiApiKey
    azureOpenAiApiKey: azureOpenAiKey
    firecrawlApiKey: firecrawlApiKey
    statsAdminKey: statsAdminKey
  }
}

module openAi 'modules/openai.bicep' = if (createAzureOpenAi) {
  name: 'openai'
  scope: rg
  params: {
    name: 'oai-${resourceToken}'
    location: azureOpenAiLocation
    tags: tags
    deploymentName: azureOpenAiDeployment
    modelName: azureOpenAiModelName
    modelVersion: azureOpenAiModelVersion
    capacity: azureOpenAiCapacity
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    principalId: principalId
    principalType: principalType
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    openAiAccountName: createAzureOpenAi ? openAi.outputs.name : ''
  }
}

// A setting that holds a secret is a Key Vault reference, present only when the secret is;
// without AZURE_OPENAI_API_KEY the app uses Entra ID. No version in the URI: a rotated secret is
// picked up on the platform's next refresh. The names are the secrets of keyvault.bicep.
var openAiKeySetting = empty(openAiApiKey) ? {} : {
  OPENAI_API_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/openai-api-key)'
}
var azureOpenAiKeySetting = empty(azureOpenAiKey) ? {} : {
  AZURE_OPENAI_API_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/azure-openai-api-key)'
}
var firecrawlKeySetting = empty(firecrawlApiKey) ? {} : {
  FIRECRAWL_API_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/firecrawl-api-key)'
}
var statsAdminKeySetting = empty(statsAdminKey) ? {} : {
  STATS_ADMIN_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/stats-admin-key)'
}
var keyVaultReferences = union(openAiKeySetting, azureOpenAiKeySetting, firecrawlKeySetting, statsAdminKeySetting)

var openAiBaseUrlSetting = empty(openAiBaseUrl) ? {} : { OPENAI_BASE_URL: openAiBaseUrl }
var firecrawlApiUrlSetting = empty(firecrawlApiUrl) ? {} : { FIRECRAWL_API_URL: firecrawlApiUrl }
var azureOpenAiSettings = createAzureOpenAi || !empty(azureOpenAiEndpoint) ? {
  AZURE_OPENAI_ENDPOINT: createAzureOpenAi ? openAi.outputs.endpoint : azureOpenAiEndpoint
  AZURE_OPENAI_DEPLOYMENT: createAzureOpenAi ? openAi.outputs.deploymentName : azureOpenAiDeployment
} : {}
var optionalSettings = union(openAiBaseUrlSetting, firecrawlApiUrlSetting, azureOpenAiSettings)

var appSettings = union(keyVaultReferences, optionalSettings, {
  // The task hub in host.json, overridable per environment.
  AzureFunctionsJobHost__extensions__durableTask__hubName: taskHubName
  // The Python worker runs sync functions (every activity and orchestrator here) on one thread
  // pool, min(32, CPUs + 4) by default: fewer than host.json lets run at once (8 activities + 8
  // orchestrators), so replays would queue behind activities. Keep it equal to their sum.
  PYTHON_THREADPOOL_THREAD_COUNT: '16'

  MARKET_DATA_PROVIDER: marketDataProvider
  NEWS_PROVIDER: newsProvider
  LLM_PROVIDER: llmProvider
  JOB_DEADLINE_SECONDS: string(jobDeadlineSeconds)
  ACTIVITY_MAX_ATTEMPTS: string(activityMaxAttempts)
  ACTIVITY_RETRY_FIRST_MS: string(activityRetryFirstMs)
  ANALYSES_PER_HOUR: string(analysesPerHour)
  BATCH_MAX_TICKERS: string(batchMaxTickers)
  BATCH_CONCURRENCY: string(batchConcurrency)
  LLM_TOKEN_BUDGET: string(llmTokenBudget)
  AUTH_MODE: authMode
  RETENTION_DAYS: string(retentionDays)
  RETENTION_CRON: retentionCron
  OPENAI_MODEL: openAiModel
  OPENAI_API_VERSION: openAiApiVersion
})

module api 'modules/function-app.bicep' = {
  name: 'api'
  scope: rg
  // Roles first: the host reaches storage, Key Vault and Application Insights at its first start.
  dependsOn: [
    rbac
  ]
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    appSettings: appSettings
    authMode: authMode
    authClientId: authClientId
    maximumInstanceCount: maximumInstanceCount
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_OPENAI_ENDPOINT string = createAzureOpenAi ? openAi.outputs.endpoint : azureOpenAiEndpoint
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
// Read by `python -m stockmemo` (its default for --api) after `azd env get-values`.
output STOCKMEMO_API_URL string = 'https://${api.outputs.defaultHostName}/api'
output STOCKMEMO_UI_URL string = 'https://${api.outputs.defaultHostName}/api/ui'
