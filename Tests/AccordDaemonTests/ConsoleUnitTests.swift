import AccordAdminAPI
@testable import AccordDaemon
import Testing

/// The pure parts under the console and the event stream: HTML escaping, the SSE reader, forms.
@Suite("Console and event stream: pure parts")
struct ConsoleUnitTests {
    @Test("interpolated text is escaped, markup written in the source is not, attributes are quoted")
    func escaping() {
        let title = #"<script>alert("x")</script> & 'co'"#
        let html: HTML = "<h1>\(title)</h1><a\(HTML.attribute("href", #"/a?b="c"&d"#))>x</a>"
        #expect(html.description == #"<h1>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</h1><a href="/a?b=&quot;c&quot;&amp;d">x</a>"#)
        let nested: HTML = "<p>\(html)</p>"
        #expect(nested.description.hasPrefix("<p><h1>&lt;script"), "HTML interpolated into HTML is not escaped twice")
    }

    @Test("the event-stream reader finds events however the bytes are split, skips comments, joins data lines, bounds an unfinished event")
    func serverSentEvents() throws {
        let stream = Array(": subscribed\n\nid: 1.1\nevent: note-added\ndata: {\"a\":1}\n\n: keepalive\n\nid: 1.2\r\ndata: line one\r\ndata: line two\r\n\r\n".utf8)
        for split in [1, 2, 3, 7, stream.count] {
            var parser = ServerSentEventParser()
            var events: [ServerSentEventParser.Event] = []
            var offset = 0
            while offset < stream.count {
                events += try parser.feed(stream[offset..<min(offset + split, stream.count)])
                offset += split
            }
            #expect(events == [
                .init(id: "1.1", type: "note-added", data: #"{"a":1}"#), .init(id: "1.2", type: nil, data: "line one\nline two"),
            ], "chunks of \(split) bytes")
        }
        var bounded = ServerSentEventParser(maximumEventBytes: 64)
        #expect(throws: ServerSentEventParser.TooLarge.self) { try bounded.feed(Array(repeating: UInt8(ascii: "x"), count: 100)) }
    }

    @Test("forms and query strings: + is a space, the rest percent-decoded; CSRF tokens compared in constant time")
    func forms() {
        #expect(FormFields.decode("q=gpu+pool&party=a%2Bb&empty=&flag") == ["q": "gpu pool", "party": "a+b", "empty": "", "flag": ""])
        #expect(ConsoleGate.constantTimeEqual("abc", "abc") && !ConsoleGate.constantTimeEqual("abc", "abd"))
    }

    @Test("a page of the agreement list links to its neighbours with the same filter")
    func pages() {
        var filter = ConsolePages.ListFilter()
        filter.search = "gpu pool"
        filter.party = "a+b"
        #expect(filter.query(page: 2) == "/agreements?q=gpu%20pool&party=a%2Bb&page=2")
    }
}
