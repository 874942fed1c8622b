//! [`Variable`]: the blocking twin of [`crate::Variable`]. On the local transport its calls never touch the runtime:
//! a read or write is the mapped file's own, in the caller's thread.

use crate::variable::AsArg;
use crate::{Error, Result, ValueType, VariableValue};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

/// A blocking [`crate::Variable`], made by [`blocking::Service::variable`](crate::blocking::Service::variable).
#[derive(Debug, Clone)]
pub struct Variable<T: VariableValue> {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) inner: crate::Variable<T>,
}

impl<T: VariableValue> Variable<T> {
    /// The async handle inside.
    pub fn as_async(&self) -> &crate::Variable<T> {
        &self.inner
    }

    /// See [`crate::Variable::name`].
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// See [`crate::Variable::value_type`].
    pub fn value_type(&self) -> ValueType {
        self.inner.value_type()
    }

    /// See [`crate::Variable::read`].
    pub fn read(&self) -> Result<T> {
        Ok(self.read_versioned()?.0)
    }

    /// See [`crate::Variable::read_versioned`].
    pub fn read_versioned(&self) -> Result<(T, u64)> {
        match self.inner.read_local() {
            Some(local) => local,
            None => self.runtime.block_on(self.inner.read_versioned()),
        }
    }

    /// See [`crate::Variable::write`].
    pub fn write(&self, value: <T as crate::value::sealed::Codec>::Arg<'_>) -> Result<u64> {
        match self.inner.write_local(value, None) {
            Some(local) => local,
            None => self.runtime.block_on(self.inner.write(value)),
        }
    }

    /// See [`crate::Variable::compare_and_set`].
    pub fn compare_and_set(
        &self,
        expected_version: u64,
        value: <T as crate::value::sealed::Codec>::Arg<'_>,
    ) -> Result<u64> {
        match self.inner.write_local(value, Some(expected_version)) {
            Some(local) => local,
            None => self
                .runtime
                .block_on(self.inner.compare_and_set(expected_version, value)),
        }
    }

    /// Waits until the variable is at another version than `seen_version`, or `timeout` passes; returns the value and
    /// version then, or `None` on a timeout. On the local transport this thread sleeps on the mapped file's change
    /// signal (see [`crate::Variable::wait_change_blocking`]); on the remote one it watches the variable until a
    /// change arrives.
    pub fn wait_change(&self, seen_version: u64, timeout: Duration) -> Result<Option<(T, u64)>> {
        if self.inner.is_local() {
            return self.inner.wait_change_blocking(seen_version, timeout);
        }
        self.runtime.block_on(async {
            let mut watch = self.inner.service().watch_variable(self.inner.name()).await?;
            let current = self.inner.read_versioned().await?;
            if current.1 != seen_version {
                return Ok(Some(current));
            }
            let changed = tokio::time::timeout(timeout, async {
                while let Some(change) = watch.next_change().await {
                    if change.version != seen_version {
                        return self.inner.read_versioned().await.map(Some);
                    }
                }
                Ok(None)
            });
            changed.await.unwrap_or(Ok(None))
        })
    }

    /// See [`crate::Variable::update`].
    pub fn update(&self, mut f: impl FnMut(T) -> T) -> Result<u64>
    where
        T: for<'a> AsArg<'a>,
    {
        loop {
            let (value, version) = self.read_versioned()?;
            let next = f(value);
            match self.compare_and_set(version, next.as_arg()) {
                Err(Error::Conflict { .. }) => continue,
                other => return other,
            }
        }
    }
}
