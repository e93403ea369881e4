fn main() -> std::process::ExitCode {
    buhbot::cli::main()
}
