//! A counting global allocator, for the steady-state allocation test
//! (`tests/steady_state.rs`): it forwards to the system allocator and counts
//! allocation calls (`alloc`, `alloc_zeroed`, `realloc`) and frees per
//! thread, so that tests running in parallel do not see each other's.
//!
//! This package does not use the workspace lints: they forbid `unsafe_code`
//! and a `GlobalAlloc` implementation is necessarily an `unsafe impl` (see
//! `Cargo.toml`). The only unsafe code is the impl below, which adds nothing
//! to `System`'s contract.
//!
//! With `ALLOC_TRACE=1` in the environment, [`trace`] can be switched on to
//! print a backtrace for every allocation (to find where one comes from).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::sync::atomic::{AtomicBool, Ordering};
use std::alloc::System;

static TRACE: AtomicBool = AtomicBool::new(false);

std::thread_local! {
    // `const` initialisers without destructors: touching them never
    // allocates, so the allocator itself may use them.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static FREES: Cell<u64> = const { Cell::new(0) };
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

/// The counting allocator: declare it with
/// `#[global_allocator] static A: CountingAlloc = CountingAlloc;`.
#[derive(Debug)]
pub struct CountingAlloc;

impl CountingAlloc {
    #[inline]
    fn count(&self, size: usize) {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        if TRACE.load(Ordering::Relaxed) {
            trace_one(size);
        }
    }
}

#[cold]
fn trace_one(size: usize) {
    // Capturing a backtrace allocates: guard against recursion.
    let _ = IN_TRACE.try_with(|t| {
        if t.replace(true) {
            return;
        }
        eprintln!("allocation of {size} bytes at:\n{}", std::backtrace::Backtrace::force_capture());
        t.set(false);
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; the counting touches only
// const-initialised thread-locals and an atomic flag.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count(layout.size());
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count(layout.size());
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count(new_size);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = FREES.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocation calls (`alloc`, `alloc_zeroed`, `realloc`) so far on this
/// thread.
pub fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

/// Frees so far on this thread.
pub fn frees() -> u64 {
    FREES.with(Cell::get)
}

/// Prints a backtrace for every allocation while `on` (only if `ALLOC_TRACE`
/// is set in the environment, so that a normal run stays quiet).
pub fn trace(on: bool) {
    TRACE.store(on && std::env::var_os("ALLOC_TRACE").is_some(), Ordering::Relaxed);
}
