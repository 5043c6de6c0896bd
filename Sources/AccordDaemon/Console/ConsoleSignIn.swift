import AccordRefusals
import AccordPeople
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Sign-in through the organisation's identity provider: the authorization code flow with PKCE,
/// `state` and `nonce` (OpenID Connect Core §3.1), with the browser that starts it bound to the
/// browser that comes back by a cookie.
extension ConsoleRoutes {
    /// The cookie that ties a sign-in's callback to the browser that started it: `Lax`, because
    /// the provider's redirect back is a cross-site navigation, and only under `/login`.
    var signInCookie: String { gate.cookie.replacing("accord_session_", with: "accord_signin_") }

    /// `GET /login/start`: to the provider, with a fresh pending sign-in.
    func startSignIn(_ request: Request, _ context: AccordRequestContext) async throws -> Response {
        guard let provider else { throw HTTPError(.notFound) }
        let started: PendingSignIns.Started
        do {
            started = try pendingSignIns.start(source: context.remoteAddress ?? "unknown")
        } catch {
            return refuseSignIn(request, context, error, status: .tooManyRequests)
        }
        let url: URL
        do {
            url = try await provider.authorizationURL(state: started.state, nonce: started.nonce, codeChallenge: started.codeChallenge)
        } catch {
            return refuseSignIn(request, context, SignInRefusal(.providerError, "the identity provider cannot be reached (\(error))"), status: .badGateway)
        }
        var response = Self.redirect(url.absoluteString)
        response.headers[.setCookie] = "\(signInCookie)=\(started.browserSecret); HttpOnly; SameSite=Lax; Path=/login; Max-Age=\(pendingSignIns.lifetime.components.seconds)"
        return response
    }

    /// `GET /login/callback`: the provider's answer. The code is redeemed only for a pending
    /// sign-in this browser started; the session opens only for a verified ID token of a person
    /// the role mapping gives a role.
    func finishSignIn(_ request: Request, _ context: AccordRequestContext) async throws -> Response {
        guard let provider else { throw HTTPError(.notFound) }
        let query = request.queryFields
        if let error = query["error"] {
            return refuseSignIn(request, context, SignInRefusal(.providerError, "the identity provider answered \(error.prefix(100))"), status: .unauthorized)
        }
        guard let state = query["state"], let code = query["code"], !code.isEmpty else {
            return refuseSignIn(request, context, SignInRefusal(.stateUnknown, "the provider's answer has no state or no code"), status: .badRequest)
        }
        let browserSecret = Cookies(from: request.headers[values: .cookie])[signInCookie]?.value
        let claims: IDTokenClaims
        do {
            let pending = try pendingSignIns.finish(state: state, browserSecret: browserSecret)
            claims = try await provider.signIn(code: code, codeVerifier: pending.codeVerifier, nonce: pending.nonce, now: Date(timeIntervalSince1970: Double(administration.clock()) / 1000))
        } catch let refusal as SignInRefusal {
            return refuseSignIn(request, context, refusal, status: .unauthorized)
        } catch {
            return refuseSignIn(request, context, SignInRefusal(.providerError, "the identity provider cannot be reached (\(error))"), status: .badGateway)
        }
        let roles = provider.configuration.roles.roles(memberOf: claims.groups)
        guard !roles.isEmpty else {
            return refuseSignIn(
                request, context, SignInRefusal(.noRole, "\(claims.email ?? claims.subject) is in no group that [console.oidc.roles] gives a role"),
                status: .forbidden
            )
        }
        let person = Person(subject: claims.subject, name: claims.name, email: claims.email, roles: roles, signIn: .identityProvider)
        let source = context.remoteAddress ?? "unknown"
        let sessionID = authority.open(for: person, source: source)
        logger.info(
            "console sign-in", metadata: ["person": "\(person.subject)", "name": "\(person.displayName)", "roles": "\(roles)", "source": "\(source)"]
        )
        // A page, not a redirect: the provider's redirect here was a cross-site navigation, and
        // a browser would not send the new `Strict` session cookie on a redirect that continues
        // it; a navigation this page starts is same-site.
        var response = Self.page(ConsolePages.signedIn(person))
        response.headers.append(HTTPField(name: .setCookie, value: "\(gate.cookie)=\(sessionID); HttpOnly; SameSite=Strict; Path=/"))
        response.headers.append(HTTPField(name: .setCookie, value: "\(signInCookie)=; HttpOnly; SameSite=Lax; Path=/login; Max-Age=0"))
        return response
    }

    private func refuseSignIn(_ request: Request, _ context: AccordRequestContext, _ refusal: SignInRefusal, status: HTTPResponse.Status) -> Response {
        gate.refusals.refused(
            "console sign-in refused", reason: refusal.reason, level: .notice,
            metadata: ["source": "\(context.remoteAddress ?? "unknown")", "detail": "\(refusal.message)"]
        )
        administration.counters.consoleRefused(refusal.reason)
        return Self.page(ConsolePages.login(error: "Not signed in: \(refusal.message).", provider: true), status: status)
    }
}
