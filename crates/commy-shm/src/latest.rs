//! [`Latest`]: the newest of a few values, read without a lock; every value ever stored stays alive until the cell
//! drops.
//!
//! Made for what follows a replaced service file: a handle that resolved a variable in one file keeps that
//! resolution, and when the server moves the service to a new file, it stores a resolution in the new one. Readers
//! load one pointer; nothing is ever freed under them, so the read needs neither a lock nor a reference count. The
//! price is memory: each stored value lives as long as the cell, so use it only for values replaced rarely (a
//! service moves when a process loses its right to it).

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The newest stored value, read with one atomic load: see the module docs.
pub struct Latest<T> {
    current: AtomicPtr<T>,
    /// Every value stored, in order; never shrinks while the cell lives. An `Arc` keeps its value in place when the
    /// vector grows.
    all: Mutex<Vec<Arc<T>>>,
    /// Readers on any thread get `&T`: the cell is `Sync` only for `T: Send + Sync`.
    _value: PhantomData<T>,
}

impl<T> Latest<T> {
    /// A cell holding `value`.
    pub fn new(value: T) -> Latest<T> {
        let first = Arc::new(value);
        let current = AtomicPtr::new(Arc::as_ptr(&first).cast_mut());
        Latest {
            current,
            all: Mutex::new(vec![first]),
            _value: PhantomData,
        }
    }

    /// The newest value.
    #[inline]
    pub fn get(&self) -> &T {
        // SAFETY: `current` always points at a value held by an `Arc` in `all` (pushed before the pointer is stored
        // with Release, and read here with Acquire, so the value is fully written); those `Arc`s are never dropped
        // while `self` lives, so the reference is valid for `&self`'s lifetime. Values are only ever shared (`&T`,
        // never `&mut T`), as `Arc` allows.
        unsafe { &*self.current.load(Ordering::Acquire) }
    }

    /// Stores the value `make` returns as the newest, unless `keep(current)` says the current one is still good;
    /// returns the newest, or `make`'s error (then nothing changed). Callers racing to store see each other's values
    /// through `keep`, so one refresh is stored once.
    pub fn store_unless<E>(&self, keep: impl FnOnce(&T) -> bool, make: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        let mut all = self.all.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.get();
        if keep(current) {
            return Ok(current);
        }
        let fresh = Arc::new(make()?);
        let pointer = Arc::as_ptr(&fresh).cast_mut();
        all.push(fresh);
        self.current.store(pointer, Ordering::Release);
        Ok(self.get())
    }

    /// How many values the cell holds (one more per store).
    pub fn stored(&self) -> usize {
        self.all.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl<T: fmt::Debug> fmt::Debug for Latest<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Latest").field(self.get()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Latest;

    #[test]
    fn a_store_replaces_the_value_unless_kept_and_earlier_values_stay_readable() {
        let cell = Latest::new(1u64);
        let first = cell.get();
        assert_eq!(*cell.store_unless(|&v| v == 1, || Ok::<_, ()>(2)).unwrap(), 1, "kept");
        assert_eq!(cell.stored(), 1);
        assert_eq!(
            *cell.store_unless(|&v| v == 2, || Ok::<_, ()>(2)).unwrap(),
            2,
            "replaced"
        );
        assert_eq!(cell.store_unless(|_| false, || Err("no")), Err("no"));
        assert_eq!((*cell.get(), *first, cell.stored()), (2, 1, 2));
    }
}
