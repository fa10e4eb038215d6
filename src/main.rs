fn main() -> std::process::ExitCode {
    regcred::main(std::env::args_os().collect())
}
