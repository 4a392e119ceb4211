import MilterApp
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

exit(MilterDaemon.main(arguments: Array(CommandLine.arguments.dropFirst())))
