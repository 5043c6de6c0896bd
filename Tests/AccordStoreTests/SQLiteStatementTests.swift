@testable import AccordStore
import AccordTestSupport
import Testing

/// Parameters are bound by name, and a slip in binding is an error naming the statement rather
/// than a row written with NULL or with a value in the wrong column.
@Suite("SQLite statements")
struct SQLiteStatementTests {
    private func connection(_ directory: TemporaryDirectory) throws -> SQLiteConnection {
        let connection = try SQLiteConnection(path: directory.file("statements.sqlite"), create: true)
        try connection.execute("CREATE TABLE pairs (key TEXT NOT NULL, value INTEGER)")
        return connection
    }

    @Test("values bound by name land in their columns, whatever the order of the calls")
    func namedBinding() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let connection = try connection(directory)
        try connection.statement("INSERT INTO pairs (key, value) VALUES (:key, :value)")
            .bind(":value", 42).bind(":key", "answer").run()
        let read = try connection.statement("SELECT key, value FROM pairs WHERE key = :key")
        try read.bind(":key", "answer")
        #expect(try read.step())
        #expect(read.text(0) == "answer")
        #expect(read.int64(1) == 42)
    }

    @Test("a name the statement does not have is an error that quotes the statement")
    func unknownName() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let connection = try connection(directory)
        let insert = try connection.statement("INSERT INTO pairs (key, value) VALUES (:key, :value)")
        let error = #expect(throws: StoreError.self) { try insert.bind(":valeu", 1) }
        #expect(error?.description.contains(":valeu") == true)
        #expect(error?.description.contains("INSERT INTO pairs") == true)
    }

    @Test("a parameter left unbound stops the statement before it runs, and nothing is written")
    func unboundParameter() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let connection = try connection(directory)
        let insert = try connection.statement("INSERT INTO pairs (key, value) VALUES (:key, :value)")
        try insert.bind(":key", "half")
        let error = #expect(throws: StoreError.self) { try insert.run() }
        #expect(error?.description.contains("1 parameter(s) left unbound") == true)
        let count = try connection.statement("SELECT count(*) FROM pairs")
        #expect(try count.step())
        #expect(count.int64(0) == 0)
    }

    @Test("a reused statement forgets the values of its last use")
    func resetForgetsValues() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let connection = try connection(directory)
        try connection.statement("INSERT INTO pairs (key, value) VALUES (:key, :value)")
            .bind(":key", "first").bind(":value", 1).run()
        let again = try connection.statement("INSERT INTO pairs (key, value) VALUES (:key, :value)")
        try again.bind(":key", "second")
        #expect(throws: StoreError.self) { try again.run() }
    }
}
