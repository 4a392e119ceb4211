import Synchronization

/// The decision of the message in progress, taken from its log lines
/// (``MessageLog``): the last decision stated is the one that stands (a
/// failure accepted by its `On-*` action may still end sealed).
final class MessageOutcomeRecorder: Sendable {
    private let outcome = Mutex<MessageOutcome?>(nil)

    /// Notes the decision a log line states, if it states one.
    func note(_ logText: String) {
        guard MessageOutcome.firstRange(of: "decision=", in: logText[...]) != nil, let stated = MessageOutcome(logText: logText) else { return }
        outcome.withLock { $0 = stated }
    }

    /// Notes a decision made without a decision line.
    func note(_ stated: MessageOutcome) {
        outcome.withLock { $0 = stated }
    }

    /// The decision that stands, if any was stated.
    var current: MessageOutcome? { outcome.withLock { $0 } }
}
