@testable import FedMailCore
import Testing

/// Inputs that the libFuzzer targets (contrib/fuzz) or their review found to
/// break a FedMailCore parser. Each runs in a child process (an exit test),
/// so a crash fails this test instead of taking the whole test run down.
@Suite struct FuzzRegressionTests {
    /// `MIMEContentType.parse` skips a comment and then calls its
    /// `skipSpace()` again recursively, one stack frame per comment. A
    /// Content-Type with tens of thousands of empty comments — 70 KB, a
    /// header Postfix passes on (header_size_limit is 100 KiB) and that the
    /// opener parses from a sealed message before anything is verified —
    /// overflows the stack (SIGSEGV) in a debug build; only optimized
    /// builds survive, where the call happens to become a loop.
    @Test func contentTypeWithManyCommentsDoesNotOverflowTheStack() async {
        await #expect(processExitsWith: .success) {
            let value = "text/plain" + String(repeating: "()", count: 35_000) + "; charset=utf-8"
            let parsed = MIMEContentType.parse(value)
            precondition(parsed?.mediaType == "text/plain")
            precondition(parsed?.parameters["charset"] == "utf-8")
        }
    }
}
