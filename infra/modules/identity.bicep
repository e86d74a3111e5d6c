// The app's one identity. User-assigned, so its role assignments exist before the app does and
// survive a redeploy of the site; the same client id is handed to the Functions host
// (AzureWebJobsStorage__clientId), to DefaultAzureCredential (AZURE_CLIENT_ID), to Key Vault
// references (keyVaultReferenceIdentity) and to Application Insights ingestion.

param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
