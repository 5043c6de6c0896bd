import AccordTLS
import AccordTestSupport
import Foundation
import NIOCore

/// TLS contexts of the shared test PKI (`HostilePKI`).
final class TestPKI: Sendable {
    /// The process's one PKI; minted by the first test that asks (see `HostilePKI.shared`).
    static var shared: TestPKI {
        get async throws { TestPKI(try await HostilePKI.shared) }
    }

    let pki: HostilePKI

    private init(_ pki: HostilePKI) { self.pki = pki }

    var caPath: String { pki.caPath }
    var crlPath: String { pki.crlPath }

    /// A node of the consortium CA (or, with `rogue`, of another CA that signs the same names).
    func configuration(
        _ node: String, rogue: Bool = false, crl: Bool = false, handshakeTimeout: TimeInterval = 30
    ) -> TLSConfiguration {
        let folder = (rogue ? pki.rogue : pki.consortium) + "/"
        return TLSConfiguration(
            certificateChainPath: folder + node + ".pem", privateKeyPath: folder + node + ".key",
            trustRootsPath: caPath, crlPath: crl ? crlPath : nil,
            handshakeTimeout: .milliseconds(Int64(handshakeTimeout * 1000))
        )
    }

    func context(_ node: String, rogue: Bool = false, crl: Bool = false, handshakeTimeout: TimeInterval = 30) throws -> TLSContext {
        try TLSContext(configuration: configuration(node, rogue: rogue, crl: crl, handshakeTimeout: handshakeTimeout))
    }

    func path(_ node: String, _ suffix: String) -> String { pki.path(node, suffix) }
}
