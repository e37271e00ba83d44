// Storage for the Functions host (AzureWebJobsStorage: timer schedule
// monitor, keys, locks), the Flex deployment package, and rostersync's state
// tables. Shared keys are off: everything reaches it with the managed identity.

param name string
param location string
param deploymentContainerName string

@description('Principal (object) id of the managed identity the app runs as.')
param principalId string

// Exactly state.Tables (internal/state/store.go); internal/infracheck fails
// when the two lists differ.
var tables = [
  'customers'
  'profiles'
  'mappings'
  'exclusions'
  'runs'
  'runindex'
  'runlog'
  'syncstate'
  'deadletters'
  'plans'
  'credentials'
  'blobs'
  'audit'
]

// Exactly the containers the code names: state.BlobContainer (plan
// bodies, internal/state/blobs.go) and tenant.DropContainer (customers'
// roster drops, internal/tenant/source.go); internal/infracheck fails when
// they differ.
var containers = [
  'plans'
  'rosterdrops'
]

var roles = {
  // The host's own storage and the Flex deployment container are blobs;
  // so are plan bodies (written) and the roster drop container (read by
  // blob roster sources) behind BlobsEndpoint. Owner on the account covers
  // all of them, so no narrower grant is made on the drop container.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // The state tables (TablesEndpoint).
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource appContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = [for container in containers: {
  parent: blobService
  name: container
  properties: {
    publicAccess: 'None'
  }
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource stateTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' = [for table in tables: {
  parent: tableService
  name: table
}]

resource grants 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in [
  roles.storageBlobDataOwner
  roles.storageTableDataContributor
]: {
  name: guid(account.id, principalId, role)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

output name string = account.name
output tableEndpoint string = account.properties.primaryEndpoints.table
output blobEndpoint string = account.properties.primaryEndpoints.blob
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainerName}'
