struct CandidateCollector {
    let limit: Int
    var items: [String] = []
    var seen: Set<String> = []

    init(limit: Int) { self.limit = limit }

    var isFull: Bool { items.count >= limit }

    mutating func insert(_ candidate: String) {
        guard !isFull, !candidate.isEmpty, seen.insert(candidate).inserted else { return }
        items.append(candidate)
    }
}

enum CandidateScanner {
    enum Class { case domain, ignorable, at, other }

    /// Fullwidth forms as ASCII, ideographic full stops as ".".
    static func normalize(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        let v = scalar.value
        if v >= 0xFF01 && v <= 0xFF5E, let ascii = Unicode.Scalar(v - 0xFEE0) { return ascii }
        switch v {
        case 0x3002, 0xFF61, 0xFE52: return "."
        case 0xFE6B: return "@"
        default: return scalar
        }
    }

    static func classify(_ scalar: Unicode.Scalar) -> Class {
        let v = scalar.value
        switch v {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E: return .domain
        case 0x40: return .at
        case 0..<0x80: return .other
        default:
            let properties = scalar.properties
            if properties.isDefaultIgnorableCodePoint { return .ignorable }
            if properties.isAlphabetic || properties.numericType == .decimal { return .domain }
            switch properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark: return .domain
            default: return .other
            }
        }
    }

    static func scan(_ text: [Unicode.Scalar], into collector: inout CandidateCollector) {
        var withIgnorables = ""
        var withoutIgnorables = ""
        var lastWasDot = false
        var runAfterAt = false
        var pendingAt = false
        var inRun = false

        func flush() {
            if inRun {
                for run in [withIgnorables, withoutIgnorables] {
                    var scalars = run.unicodeScalars[...]
                    while scalars.first == "." { scalars = scalars.dropFirst() }
                    while scalars.last == "." { scalars = scalars.dropLast() }
                    guard !scalars.isEmpty, runAfterAt || scalars.contains(".") else { continue }
                    var candidate = ""
                    candidate.unicodeScalars.append(contentsOf: scalars)
                    collector.insert(candidate.lowercased())
                }
            }
            withIgnorables = ""
            withoutIgnorables = ""
            inRun = false
            lastWasDot = false
            runAfterAt = false
        }

        for raw in text {
            if collector.isFull { return }
            let scalar = normalize(raw)
            switch classify(scalar) {
            case .domain:
                if scalar == "." && lastWasDot {
                    flush() // ".." ends a run
                    pendingAt = false
                    continue
                }
                if !inRun {
                    inRun = true
                    runAfterAt = pendingAt
                    pendingAt = false
                }
                withIgnorables.unicodeScalars.append(scalar)
                withoutIgnorables.unicodeScalars.append(scalar)
                lastWasDot = scalar == "."
            case .ignorable:
                if inRun { withIgnorables.unicodeScalars.append(scalar) }
            case .at:
                flush()
                pendingAt = true
            case .other:
                flush()
                pendingAt = false
            }
        }
        flush()
    }
}
