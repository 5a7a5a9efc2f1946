//! Waiting for something a process under test will do: one polling loop for every test, so
//! a timeout always says what was awaited and what was last seen instead of a bare assert.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// Calls `check` until it returns `Ok`, and returns that value. `check` returns `Err(seen)`
/// while the condition does not hold yet; after `timeout` the test panics naming `what` and
/// the last `seen`. Polls quickly at first (5 ms) and backs off to 50 ms.
pub fn eventually<T, S: Display>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, S>,
) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        match check() {
            Ok(value) => return value,
            Err(seen) if Instant::now() >= deadline => {
                panic!("{what}: not reached within {timeout:?}; last seen: {seen}")
            }
            Err(_) => {}
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// `Ok(())` when `done`, else `Err(seen)`: for checks that only compare.
pub fn when<S>(done: bool, seen: S) -> Result<(), S> {
    if done { Ok(()) } else { Err(seen) }
}
