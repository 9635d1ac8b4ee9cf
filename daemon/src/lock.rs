//! The daemon's one way to take a lock. A poisoned lock means a thread panicked while it held
//! it; every lock of the daemon guards data that stays whole between statements (a frame cell,
//! a camera's state and counters, a message queue, a child process), and the panic itself is
//! reported where that thread is joined. So a panic in one thread never becomes a panic in
//! every thread that shares its data: the others carry on with it.

use std::sync::{Mutex, MutexGuard};

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
