//! The `leitstand` binary.

fn main() -> std::process::ExitCode {
    leitstand_server::cli::main()
}
