import AccordAdminAPI
import AccordPeople
import Foundation
import Hummingbird
import HTTPTypes
import NIOCore

/// What a request on the admin socket or the console carries besides itself: where it came from,
/// and on the console, the session it was made in (`ConsoleSessionMiddleware` finds it).
struct AccordRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The client's address; nil on the Unix socket.
    let remoteAddress: String?
    /// The signed-in console session (its id and CSRF token), once checked.
    var consoleSession: ConsoleSessionIdentity?
    /// The connection's channel (the admin socket asks it who is calling).
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
        channel = source.channel
    }
}

extension AccordRequestContext {
    /// The path parameter `name`, percent-decoded (a node `initech%2Fnode2`, a reference with a
    /// slash): the router matches the path as sent.
    func pathParameter(_ name: String) throws -> String {
        let raw = try parameters.require(name)
        return raw.removingPercentEncoding ?? raw
    }
}

/// A console session as a request knows it: the cookie's secret, the CSRF token of its forms,
/// and who signed in.
struct ConsoleSessionIdentity: Sendable {
    let id: String
    let csrf: String
    let person: Person
}

extension Request {
    /// The whole body, at most `limit` bytes; a larger one is refused with 413 without reading it
    /// to the end.
    func body(upTo limit: Int) async throws -> [UInt8] {
        do {
            var buffer = try await body.collect(upTo: limit)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch is NIOTooManyBytesError {
            throw AdminFailure(.contentTooLarge, "request-too-large", "request bodies are limited to \(limit) bytes")
        }
    }

    /// The query's fields, decoded as browsers encode them (`+` is a space).
    var queryFields: [String: String] { FormFields.decode(uri.query ?? "") }

    /// The first value of the header `name`.
    func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
}

/// Fields of a query string or an `application/x-www-form-urlencoded` body: `+` is a space, the
/// rest percent-encoded, as browsers send forms.
enum FormFields {
    static func decode(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String { text.replacing("+", with: " ").removingPercentEncoding ?? "" }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    static func decode(_ body: [UInt8]) -> [String: String] { decode(String(decoding: body, as: UTF8.self)) }

    /// Every value of a field that repeats (the checkboxes of one name), in order.
    static func values(_ body: [UInt8], named name: String) -> [String] {
        String(decoding: body, as: UTF8.self).split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String { text.replacing("+", with: " ").removingPercentEncoding ?? "" }
            return decode(parts[0]) == name && parts.count > 1 ? decode(parts[1]) : nil
        }
    }
}
