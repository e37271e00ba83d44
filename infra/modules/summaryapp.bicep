// The daily summary's sender: a single-tenant app registration in the
// vendor's own tenant (this deployment's tenant) holding Mail.Send, so the
// multi-tenant app customers consent to never asks a school for Mail.Send
// (issue 13, product specification §10). Like the main app
// (graphapp.bicep) its only credential is the managed identity, as a
// federated identity credential: no secret, no certificate.
//
// Mail.Send (application) lets the app send as ANY mailbox in the vendor's
// tenant. Restrict it to the summary mailbox with an Exchange Online
// application access policy (New-ApplicationAccessPolicy, Exchange
// PowerShell, not Bicep; docs/deploy.md has the commands).
//
// Deploying this needs the Microsoft Graph Bicep extension and, for the
// person or pipeline deploying, the right to create applications and to
// grant application permissions to Microsoft Graph in this tenant (e.g.
// Cloud Application Administrator and Privileged Role Administrator).

extension 'br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0'

@description('Immutable key of the app registration, so redeploying updates it instead of creating another.')
param uniqueName string

param displayName string

@description('Principal (object) id of the user-assigned identity; the credential\'s subject.')
param managedIdentityPrincipalId string

// Microsoft Graph's application id, the same in every tenant.
var microsoftGraph = '00000003-0000-0000-c000-000000000000'

// Mail.Send, application permission (type Role): POST
// /users/{sender}/sendMail without a signed-in user. It is the only
// permission the summary needs and the narrowest that sends mail;
// Mail.ReadWrite and the rest are not requested.
var mailSendRoleId = 'b633e1c5-b582-4048-a93e-9f11b44c7e96'

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  // This tenant only: no customer can consent to it.
  signInAudience: 'AzureADMyOrg'
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraph
      resourceAccess: [
        {
          id: mailSendRoleId
          type: 'Role'
        }
      ]
    }
  ]

  // The managed identity is the app's only credential. Issuer is this
  // tenant's v2.0 authority, subject the identity's principal id.
  resource managedIdentityCredential 'federatedIdentityCredentials@v1.0' = {
    name: '${app.uniqueName}/managed-identity'
    description: 'rostersync\'s user-assigned managed identity signs in as this app to send daily summaries.'
    issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
    subject: managedIdentityPrincipalId
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

// The app's service principal in this tenant, and the admin grant of
// Mail.Send to it: in its home tenant the deployment is the admin consent.
resource appSp 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
}

resource graphSp 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraph
}

resource mailSend 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  appRoleId: mailSendRoleId
  principalId: appSp.id
  resourceId: graphSp.id
}

output appId string = app.appId
