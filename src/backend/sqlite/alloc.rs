//! SQLite's memory from the same allocator as the rest of the binary (mimalloc).
//!
//! The bundled SQLite calls the C library's `malloc`; in the static musl build that allocator
//! mapped and unmapped a page for most of the schema SQLite parses on open (103 `munmap` calls
//! in a no-op start over 200 migrations), each a system call and, once a second thread exists,
//! a TLB shootdown.

use std::ffi::{c_int, c_void};

use libmimalloc_sys as mi;
use rusqlite::ffi;

unsafe extern "C" fn x_malloc(n: c_int) -> *mut c_void {
    // SAFETY: mi_malloc takes any size; SQLite never asks for a negative one.
    unsafe { mi::mi_malloc(n.max(0) as usize) }
}

unsafe extern "C" fn x_free(p: *mut c_void) {
    // SAFETY: p came from x_malloc or x_realloc (SQLite's contract), or is null.
    unsafe { mi::mi_free(p) }
}

unsafe extern "C" fn x_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    // SAFETY: as x_free; mi_realloc keeps the old block when it fails.
    unsafe { mi::mi_realloc(p, n.max(0) as usize) }
}

unsafe extern "C" fn x_size(p: *mut c_void) -> c_int {
    // SAFETY: p is a live block of ours (SQLite only asks about its own allocations).
    unsafe { mi::mi_usable_size(p) }.min(c_int::MAX as usize) as c_int
}

unsafe extern "C" fn x_roundup(n: c_int) -> c_int {
    // SQLite wants 8-byte multiples; mimalloc's small size classes are too.
    (n.max(0).saturating_add(7)) & !7
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

/// Points SQLite at mimalloc. Call once, before SQLite is initialized (before any connection).
pub fn install() {
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(x_malloc),
        xFree: Some(x_free),
        xRealloc: Some(x_realloc),
        xSize: Some(x_size),
        xRoundup: Some(x_roundup),
        xInit: Some(x_init),
        xShutdown: Some(x_shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: SQLite copies the struct; called before initialization, as sqlite3_config needs.
    // Should it refuse (already initialized), SQLite keeps its own allocator: still correct.
    unsafe {
        ffi::sqlite3_config(
            ffi::SQLITE_CONFIG_MALLOC,
            &methods as *const ffi::sqlite3_mem_methods,
        );
    }
}
