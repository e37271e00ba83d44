// The Flex Consumption app running the Go binary as a custom handler
// (functionAppConfig.runtime custom 1.0: no FUNCTIONS_WORKER_RUNTIME, which
// Flex rejects). Every connection in the app settings is identity-based.

param planName string
param appName string
param location string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity.')
param identityClientId string

param storageAccountName string
param deploymentContainerUrl string
param tablesEndpoint string
param blobsEndpoint string

@description('NAME.servicebus.windows.net')
param serviceBusNamespace string

param syncQueueName string
param syncQueueMaxDeliveryCount int
param keyVaultUri string
param graphAppClientId string
param appInsightsConnectionString string
param logLevel string

@description('Comma-separated host names OneRoster REST sources may use (RosterSourceAllowedHosts); empty allows any public host.')
param rosterSourceAllowedHosts string
@description('The admin-consent redirect URI consent URLs name: registered on the app registration (graphapp.bicep), served by the anonymous Consent function.')
param consentRedirectUri string

@description('The vendor UI page the consent callback redirects the browser to.')
param consentReturnUrl string
@description('Daily summary email: the vendor\'s own mailbox it is sent from (empty: none sent), the vendor\'s tenant, the single-tenant app there holding Mail.Send (signed in with the identity\'s federated credential, like the main app), and the root of run links.')
param summarySender string = ''
param summaryTenantId string = ''
param summaryAppClientId string = ''
param summaryRunUrl string = ''
param maximumInstanceCount int
param instanceMemoryMB int

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
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
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
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
        name: 'custom'
        version: '1.0'
      }
    }
  }

  // Every key is either a host setting or one internal/config reads; the
  // local-only ones (connection strings, folders, the simulator's token, the
  // local API key) are deliberately absent. internal/infracheck checks both.
  resource settings 'config' = {
    name: 'appsettings'
    properties: {
      // The host's own storage, by identity (shared keys are off).
      AzureWebJobsStorage__accountName: storageAccountName
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      // Telemetry, sent with the identity because local auth is off.
      APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
      // State tables.
      TablesEndpoint: tablesEndpoint
      // Plan bodies (container plans) and customers' roster drops
      // (container rosterdrops).
      BlobsEndpoint: blobsEndpoint
      // The SyncJob trigger's connection (prefix ServiceBusConnection) and
      // the handler's sender, both by identity.
      ServiceBusConnection__fullyQualifiedNamespace: serviceBusNamespace
      ServiceBusConnection__credential: 'managedidentity'
      ServiceBusConnection__clientId: identityClientId
      SyncQueueName: syncQueueName
      SyncQueueMaxDeliveryCount: string(syncQueueMaxDeliveryCount)
      // Days an unacknowledged credential export stays fetchable.
      CredentialExportDays: '7'
      // Days a removed customer's links, runs and logs (and anyone's plans) are kept.
      RetentionDays: '90'
      MaxStepsPerEntity: '1000'
      MaxOpAttempts: '50'
      StallMinutes: '120'
      KeyVaultUri: keyVaultUri
      ManagedIdentityClientId: identityClientId
      // Graph: the identity is the app's federated credential; no secret.
      GraphAppClientId: graphAppClientId
      GraphAuthMode: 'federated'
      GraphBaseUrl: 'https://graph.microsoft.com/v1.0'
      // Where a profile's OneRoster source may send its credentials.
      RosterSourceAllowedHosts: rosterSourceAllowedHosts
      // Admin consent: the redirect URI registered on the app (the Consent
      // function's route), where the browser goes afterwards, and how long
      // a consent link's signed state lasts. The state's signing key is
      // the Key Vault secret consent-state-key.
      ConsentRedirectUri: consentRedirectUri
      ConsentReturnUrl: consentReturnUrl
      ConsentStateMinutes: '30'
      // Daily summary: sent through Graph sendMail from the vendor's own
      // mailbox by a single-tenant app in the vendor's tenant, so no
      // school grants Mail.Send.
      SummarySender: summarySender
      SummaryTenantId: summaryTenantId
      SummaryAppClientId: summaryAppClientId
      SummaryRunUrl: summaryRunUrl
      LogLevel: logLevel
    }
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
