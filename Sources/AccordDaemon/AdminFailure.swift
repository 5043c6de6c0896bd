import AccordAdminAPI
import Foundation
import NIOHTTP1

/// A request the admin API refuses, with the HTTP status and the JSON error body it answers with.
struct AdminFailure: Error, CustomStringConvertible {
    let status: HTTPResponseStatus
    let body: ErrorResponse

    init(_ status: HTTPResponseStatus, _ code: String, _ message: String) {
        self.status = status
        body = ErrorResponse(code: code, message: message)
    }

    static func badRequest(_ message: String) -> AdminFailure { AdminFailure(.badRequest, "bad-request", message) }
    static func notFound(_ message: String) -> AdminFailure { AdminFailure(.notFound, "not-found", message) }

    var description: String { "\(status.code) \(body.code): \(body.message)" }

    var response: AdminResponse {
        let encoded = (try? AdminAPI.encoder().encode(body)).map { Array($0) } ?? Array("{}".utf8)
        return AdminResponse(status: status, body: encoded + [UInt8(ascii: "\n")])
    }
}
