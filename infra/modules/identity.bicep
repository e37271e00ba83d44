// The one identity rostersync runs as: the Functions host (storage, Service
// Bus trigger, Application Insights), the handler (tables, queue sender, Key
// Vault) and, as a federated credential of the app registration, Microsoft
// Graph in every customer tenant. User-assigned, because the
// managed-identity-as-credential pattern does not accept a system-assigned one.

param name string
param location string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
