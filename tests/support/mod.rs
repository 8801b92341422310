//! What the tests that drive the `amina` binary share: running a command
//! that must succeed, and `amina serve` as a child process on a free
//! loopback port, killed when the test lets go of it.

// Each test binary includes this module and uses its own part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// A running `amina serve`; killed on drop.
pub struct Node(pub Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `amina ARGS` with no input.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run amina")
}

/// Run `amina ARGS`, which must succeed (its output is shown otherwise).
pub fn amina(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "amina {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Start `amina serve` on a free port of `database`, with `env` set; its
/// standard output arrives line by line on the receiver.
pub fn spawn_serve(database: &str, env: &[(&str, &str)]) -> (Node, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_amina"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start amina serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining after the receiver is gone: a server writing to
        // a closed pipe would fail.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Node(child), rx)
}

/// [`spawn_serve`], waiting until the server says where it listens;
/// returns the node and its base URL.
pub fn start_node(database: &str, env: &[(&str, &str)]) -> (Node, String) {
    let (node, lines) = spawn_serve(database, env);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = lines
            .recv_timeout(left)
            .expect("the server says where it listens");
        if let Some(url) = line.strip_prefix("amina listening on ") {
            return (node, url.to_string());
        }
    }
}
