import AccordAdminAPI
import Foundation
import HTTPTypes
import Hummingbird

/// A request the admin API (or the console) refuses, with the HTTP status and the JSON error body
/// it answers with. Thrown from anywhere below a handler; `AdminErrorMiddleware` turns it, and
/// every other error, into that answer.
struct AdminFailure: Error, CustomStringConvertible {
    let status: HTTPResponse.Status
    let body: ErrorResponse

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        body = ErrorResponse(code: code, message: message)
    }

    static func badRequest(_ message: String) -> AdminFailure { AdminFailure(.badRequest, "bad-request", message) }
    static func notFound(_ message: String) -> AdminFailure { AdminFailure(.notFound, "not-found", message) }

    var description: String { "\(status.code) \(body.code): \(body.message)" }

    /// The answer: the status and `{"code", "message"}`.
    var response: Response { .json(body, status: status) }
}

extension Response {
    /// `value` as the admin API writes JSON: sorted keys, pretty-printed, a final line break.
    static func json<Value: Encodable>(_ value: Value, status: HTTPResponse.Status = .ok) -> Response {
        var bytes = (try? AdminAPI.encoder().encode(value)).map { Array($0) } ?? Array("{}".utf8)
        bytes.append(UInt8(ascii: "\n"))
        return Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }

    /// `text` with its media type.
    static func text(_ text: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
