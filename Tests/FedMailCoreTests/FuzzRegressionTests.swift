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

    /// `FedMailTokenHeader.parse(value:)` splits and searches by Character
    /// (grapheme cluster), so a combining mark right after `=` (or `;`)
    /// merges with it and the separator is no longer seen. The fuzzer's
    /// minimized input `d=<TAB><U+073B>;t=1;v=1` (hex 64 3d 09 dc bb 3b 74 3d
    /// 31 3b 76 3d 31) parses to d="\u{73B}", t="1"; the header's own
    /// `value`, `v=1; d=\u{73B}; t=1`, then does not parse at all, because
    /// "=\u{73B}" is one Character. A header must parse back from its value.
    @Test func tokenHeaderParsesBackFromItsValue() {
        // Refusing the value outright would be a fix too; accepting it and
        // then not reading the header's own value back is the bug.
        guard let header = FedMailTokenHeader.parse(value: "d=\t\u{73B};t=1;v=1") else { return }
        #expect(FedMailTokenHeader.parse(value: header.value) == header, "value: \(header.value.debugDescription)")
    }
}
