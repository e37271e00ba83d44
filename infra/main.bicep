// rostersync in one resource group: a Flex Consumption function app running
// the Go custom handler, the job queue, the state tables, Key Vault,
// monitoring, one user-assigned identity with just the roles it needs, and
// the multi-tenant app registration customers consent to. Nothing here holds
// a secret: every connection is the managed identity.
//
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json
//
// docs/deploy.md walks through it. internal/infracheck (part of `make test`)
// reads these files and fails when the queue, tables, app settings or roles
// drift from functions/, host.json, local.settings.json.example and the code.

targetScope = 'resourceGroup'

@description('Short lowercase name (letters and digits) every resource name starts with.')
@minLength(3)
@maxLength(11)
param baseName string

@description('Region for everything; it must offer Flex Consumption.')
param location string = resourceGroup().location

@description('Deliveries of a job before Service Bus dead-letters it. The app reads the same number (SyncQueueMaxDeliveryCount) to record the last attempt as final.')
@minValue(1)
@maxValue(100)
param syncQueueMaxDeliveryCount int = 5

@description('Handler log level: debug, info, warn or error.')
@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string = 'info'

@description('Comma-separated host names OneRoster REST token and base URLs may use, e.g. *.wonde.com; empty allows any public host (private, link-local and loopback addresses are always refused).')
param rosterSourceAllowedHosts string = ''

@description('Upper bound on Flex instances. Each customer is one session, so more instances only help with many customers.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each Flex instance.')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Redirect URIs of the admin-consent callback registered on the app. Empty: the function app\'s /api/consent/callback (the anonymous Consent function). The first is the one consent URLs name (ConsentRedirectUri).')
param consentRedirectUris array = []

@description('The vendor UI page the consent callback sends the admin\'s browser back to, with ?customer=…&outcome=connected|denied|error&reason=… (ConsentReturnUrl).')
param consentReturnUrl string

@description('Daily summary email (SummarySender): the vendor\'s own mailbox summaries are sent from; empty sends none.')
param summarySender string = ''
@description('Root of the run links in summary emails (SummaryRunUrl), e.g. the vendor UI\'s runs page.')
param summaryRunUrl string = ''

// The job queue's name. Not a parameter: sessions and duplicate detection are
// fixed when a queue is created, so a new name means a new queue and a
// migration. functions/SyncJob reads it through the SyncQueueName setting,
// and local.settings.json.example names the same queue for local runs.
var syncQueueName = 'sync-jobs'

// The Flex deployment container; the app reads its package from here.
var deploymentContainerName = 'app-package'

// Six characters unique to this resource group keep the global names free.
var token = take(uniqueString(resourceGroup().id, baseName), 6)
var base = toLower(baseName)
var appName = 'func-${base}-${token}'
var redirectUris = empty(consentRedirectUris) ? [
  'https://${appName}.azurewebsites.net/api/consent/callback'
] : consentRedirectUris

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${base}-${token}'
    location: location
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: 'log-${base}-${token}'
    appInsightsName: 'appi-${base}-${token}'
    location: location
    principalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: 'st${base}${token}'
    location: location
    deploymentContainerName: deploymentContainerName
    principalId: identity.outputs.principalId
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    name: 'sb-${base}-${token}'
    location: location
    queueName: syncQueueName
    maxDeliveryCount: syncQueueMaxDeliveryCount
    principalId: identity.outputs.principalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: 'kv-${base}-${token}'
    location: location
    principalId: identity.outputs.principalId
  }
}

module graphApp 'modules/graphapp.bicep' = {
  name: 'graphapp'
  params: {
    uniqueName: '${base}-graph-${token}'
    displayName: 'rostersync (${base})'
    managedIdentityPrincipalId: identity.outputs.principalId
    redirectUris: redirectUris
  }
}

// The summary's sender (SummaryAppClientId): a single-tenant app in this
// (the vendor's) tenant with Mail.Send, deployed only when summaries are
// sent; an Exchange application access policy limits it to summarySender
// (docs/deploy.md).
module summaryApp 'modules/summaryapp.bicep' = if (!empty(summarySender)) {
  name: 'summaryapp'
  params: {
    uniqueName: '${base}-summary-${token}'
    displayName: 'rostersync summaries (${base})'
    managedIdentityPrincipalId: identity.outputs.principalId
  }
}

// Using the other modules' outputs makes the app wait for them, role
// assignments included, so the host starts with its access in place.
module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    planName: 'plan-${base}-${token}'
    appName: appName
    location: location
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    tablesEndpoint: storage.outputs.tableEndpoint
    blobsEndpoint: storage.outputs.blobEndpoint
    serviceBusNamespace: serviceBus.outputs.fullyQualifiedNamespace
    syncQueueName: serviceBus.outputs.queueName
    syncQueueMaxDeliveryCount: syncQueueMaxDeliveryCount
    keyVaultUri: keyVault.outputs.uri
    graphAppClientId: graphApp.outputs.appId
    appInsightsConnectionString: monitoring.outputs.connectionString
    logLevel: logLevel
    rosterSourceAllowedHosts: rosterSourceAllowedHosts
    consentRedirectUri: redirectUris[0]
    consentReturnUrl: consentReturnUrl
    summarySender: summarySender
    summaryTenantId: tenant().tenantId
    summaryAppClientId: empty(summarySender) ? '' : summaryApp.outputs.appId
    summaryRunUrl: summaryRunUrl
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppUrl string = 'https://${functionApp.outputs.defaultHostName}'
output managedIdentityClientId string = identity.outputs.clientId
output managedIdentityPrincipalId string = identity.outputs.principalId
output graphAppClientId string = graphApp.outputs.appId
output summaryAppClientId string = empty(summarySender) ? '' : summaryApp.outputs.appId
output storageAccountName string = storage.outputs.name
output tablesEndpoint string = storage.outputs.tableEndpoint
output serviceBusNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output syncQueueName string = serviceBus.outputs.queueName
output keyVaultUri string = keyVault.outputs.uri

// The v2 admin-consent URL a customer's admin opens (shared/research/graph.md
// section 8): replace {tenant} with the customer's tenant id or domain and
// {state} with a value bound to the customer.
output adminConsentUrl string = '${environment().authentication.loginEndpoint}{tenant}/v2.0/adminconsent?client_id=${graphApp.outputs.appId}&scope=${uriComponent('https://graph.microsoft.com/.default')}&redirect_uri=${uriComponent(redirectUris[0])}&state={state}'
