/// An SMTP reply chosen by a decision (the bridge type lives in Milter).
public struct DecisionReply: Sendable, Hashable {
    public var code: String
    public var enhancedCode: String
    public var text: String

    public init(code: String, enhancedCode: String, text: String) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.text = text
    }
}
