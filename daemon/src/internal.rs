//! Internal errors: a panic is a defect of dinoedge, never a way to end. Where one is caught
//! (a camera's frame, a camera's source) the camera goes on and its rules or its state say
//! what was lost; where one is not (any other thread or task of the daemon), the daemon stops
//! with [`Died`], which exits 70 (EX_SOFTWARE) so that systemd restarts it, and the next run
//! ends the alarms left open. [`install_hook`] sends every panic to the log, with its thread
//! and place, before anything else happens to it.

use std::any::Any;

/// A thread or task of the daemon died of a panic (`what`, with the panic's message).
#[derive(Debug, thiserror::Error)]
#[error("internal error: {0}")]
pub struct Died(pub String);

/// A panic's message (what `panic!` was given, when it is text).
pub fn message(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_owned(),
        (None, Some(text)) => text.clone(),
        (None, None) => "a panic without a message".to_owned(),
    }
}

/// Logs every panic as an error (the journal's priority 3 under systemd): the thread, the
/// place in the source and the message; the backtrace when `RUST_BACKTRACE` asks for it.
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let place = info.location().map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        let backtrace = std::backtrace::Backtrace::capture();
        let backtrace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\n{backtrace}"),
            _ => String::new(),
        };
        log::error!(
            "internal error (please report it): thread `{}` panicked{place}: {}{backtrace}",
            thread.name().unwrap_or("unnamed"),
            message(info.payload())
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_of_a_panic_is_its_text() {
        let of = |f: fn()| message(std::panic::catch_unwind(f).unwrap_err().as_ref());
        assert_eq!(of(|| panic!("plain")), "plain");
        assert_eq!(of(|| panic!("formatted {}", 7)), "formatted 7");
        assert_eq!(of(|| std::panic::panic_any(7_u8)), "a panic without a message");
    }
}
