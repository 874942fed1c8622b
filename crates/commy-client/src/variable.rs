//! [`Variable`]: a handle to one variable, resolved once, typed once.

use crate::client::unexpected;
use crate::local::Mapped;
use crate::service::Service;
use crate::value::sealed::Codec;
use crate::value::{NotOfType, VariableValue};
use crate::{Error, Result};
use commy_proto::{ReadVariable, ServerMessage, ValueType, WriteVariable};
use commy_shm::{AccessError, Latest, Resolved};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// A handle to one variable of a [`Service`], made by [`Service::variable`]: `service.variable::<u64>("speed")`.
///
/// The variable is looked up and its type checked once, when the handle is made. On the local transport the handle
/// keeps the variable resolved in the mapped file (where its version and slots are), so [`read`](Variable::read) and
/// [`write`](Variable::write) are one seqlock read or one locked copy: no allocation (for numbers and `bool`), no
/// lock but the variable's own write lock, no name lookup. If the file's layout changed since (a variable allocated,
/// freed or resized), the handle re-resolves by itself; if this variable was freed, it looks the name up again and
/// checks the type again. On the remote transport the same calls are requests.
///
/// `T` is `u64`, `i64`, `f64`, `bool` or `String` for a variable of that type, or `Vec<u8>` for the raw bytes of a
/// variable of any type. A handle is cheap to clone; each clone resolves on its own and is a writer of its own for
/// [`wait_change_blocking`](Variable::wait_change_blocking), which skips the writes of the handle it is called on.
pub struct Variable<T: VariableValue> {
    service: Service,
    name: String,
    value_type: ValueType,
    local: Option<Local>,
    _value: PhantomData<fn() -> T>,
}

/// The local transport's state: the mapping, and the variable resolved in it.
struct Local {
    mapped: Arc<Mapped>,
    /// The resolution in the newest file this handle met. A read loads it (one pointer) and compares its generation
    /// with the mapping's (one word); only when the service moved does it resolve again and store the new one. The
    /// resolutions in earlier files stay alive with the handle: a service moves rarely.
    resolved: Latest<Resolution>,
}

impl Local {
    /// A copy with a resolution of its own, so a writer tag of its own (see [`Variable::wait_change_blocking`]).
    fn fork(&self) -> Local {
        let current = self.resolved.get();
        Local {
            mapped: self.mapped.clone(),
            resolved: Latest::new(Resolution {
                generation: current.generation,
                resolved: current.resolved.clone(),
            }),
        }
    }
}

/// The variable resolved in one file of the mapping: the server may move the service to a new file (see
/// `local/remap.rs`), and the handle then resolves the name again in it.
#[derive(Debug)]
struct Resolution {
    /// The mapping's generation (which file) this was resolved in.
    generation: u64,
    resolved: Resolved,
}

/// How long a write that met a moved file waits for the mapping to follow the move before it fails.
const FOLLOW_MOVE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl<T: VariableValue> Clone for Variable<T> {
    fn clone(&self) -> Self {
        Variable {
            service: self.service.clone(),
            name: self.name.clone(),
            value_type: self.value_type,
            local: self.local.as_ref().map(Local::fork),
            _value: PhantomData,
        }
    }
}

impl<T: VariableValue> fmt::Debug for Variable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Variable")
            .field("service", &self.service.name())
            .field("name", &self.name)
            .field("value_type", &self.value_type)
            .field("local", &self.local.is_some())
            .finish()
    }
}

impl Service {
    /// A handle to the variable `name`, read and written as `T`: see [`Variable`]. Fails with
    /// [`Error::NotFound`] if there is no such variable, and with [`Error::InvalidRequest`] if its type is not `T`'s
    /// (any type for `Vec<u8>`).
    pub async fn variable<T: VariableValue>(&self, name: &str) -> Result<Variable<T>> {
        let (value_type, local) = match self.mapping() {
            Some(mapped) => {
                let generation = mapped.generation();
                let resolved = resolve::<T>(mapped, name)?;
                let value_type = ValueType::from_tag(resolved.type_tag()).unwrap_or_default();
                let local = Local {
                    mapped: mapped.clone(),
                    resolved: Latest::new(Resolution { generation, resolved }),
                };
                (value_type, Some(local))
            }
            None => {
                let listed = self.list().await?.into_iter().find(|v| v.variable_name == name);
                let info = listed.ok_or_else(|| self.no_variable(name))?;
                check_type::<T>(self.name(), name, info.value_type)?;
                (info.value_type, None)
            }
        };
        Ok(Variable {
            service: self.clone(),
            name: name.to_owned(),
            value_type,
            local,
            _value: PhantomData,
        })
    }

    fn no_variable(&self, name: &str) -> Error {
        Error::NotFound(format!("variable '{name}' does not exist in service '{}'", self.name()))
    }
}

/// Resolves `name` in the mapping and checks its type against `T`'s.
fn resolve<T: VariableValue>(mapped: &Mapped, name: &str) -> Result<Resolved> {
    let resolved = mapped
        .service()
        .writes_as(mapped.writer())
        .resolve_name(name)
        .map_err(|e| mapped.failed(name, e))?;
    let value_type = ValueType::from_tag(resolved.type_tag()).unwrap_or_default();
    check_type::<T>(mapped.name(), name, value_type)?;
    Ok(resolved)
}

/// Points `resolved` at the variable now called `name` (allocated again after the one it named was freed), after
/// checking its type against `T`'s.
fn resolve_again<T: VariableValue>(mapped: &Mapped, resolved: &Resolved, name: &str) -> Result<()> {
    let shm = mapped.service();
    let failed = |e| mapped.failed(name, e);
    let handle = shm.lookup(name).map_err(failed)?;
    let info = shm.info_of(handle).map_err(failed)?;
    check_type::<T>(
        mapped.name(),
        name,
        ValueType::from_tag(info.type_tag).unwrap_or_default(),
    )?;
    resolved.retarget(handle).map_err(failed)
}

fn check_type<T: VariableValue>(service: &str, name: &str, value_type: ValueType) -> Result<()> {
    match T::VALUE_TYPE {
        Some(wanted) if wanted != value_type => Err(Error::InvalidRequest(format!(
            "variable '{name}' in service '{service}' is of type {value_type}, not {wanted}"
        ))),
        _ => Ok(()),
    }
}

impl<T: VariableValue> Variable<T> {
    /// The variable's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The variable's type, as it was when the handle was made.
    pub fn value_type(&self) -> ValueType {
        self.value_type
    }

    /// The service it belongs to.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Whether the handle reads and writes the mapped file (the local transport). After a failover to a server
    /// whose file the client could not map, it goes through requests instead, and this is `false`.
    pub fn is_local(&self) -> bool {
        self.live_local().is_some()
    }

    /// Reads the value.
    pub async fn read(&self) -> Result<T> {
        if let Some(local) = self.read_local() {
            return local.map(|(value, _)| value);
        }
        Ok(Box::pin(self.read_remote()).await?.0)
    }

    /// Reads the value now, in this thread, without a future: on the local transport, one seqlock read of the mapped
    /// file (the fastest read the SDK has). On the remote transport it is [`Error::InvalidRequest`]: use
    /// [`read`](Variable::read) there (or the blocking client's [`Variable::read`](crate::blocking::Variable::read),
    /// which works on both).
    #[inline]
    pub fn read_now(&self) -> Result<T> {
        match self.read_local() {
            Some(local) => local.map(|(value, _)| value),
            None => Err(self.needs_local("reading")),
        }
    }

    /// [`read_now`](Variable::read_now), with the version the value belongs to.
    #[inline]
    pub fn read_versioned_now(&self) -> Result<(T, u64)> {
        self.read_local().unwrap_or_else(|| Err(self.needs_local("reading")))
    }

    /// Writes the value now, in this thread, without a future; returns the new version. On the remote transport it
    /// is [`Error::InvalidRequest`], as for [`read_now`](Variable::read_now).
    #[inline]
    pub fn write_now(&self, value: T::Arg<'_>) -> Result<u64> {
        self.write_local(value, None)
            .unwrap_or_else(|| Err(self.needs_local("writing")))
    }

    /// The error of a call that needs the local transport; `doing` says what it does ("reading").
    #[cold]
    fn needs_local(&self, doing: &str) -> Error {
        Error::InvalidRequest(format!(
            "{doing} variable '{}' without a request needs the local transport; this handle is remote",
            self.name
        ))
    }

    /// Reads the value and the version it belongs to (for [`compare_and_set`](Variable::compare_and_set)).
    pub async fn read_versioned(&self) -> Result<(T, u64)> {
        if let Some(local) = self.read_local() {
            return local;
        }
        Box::pin(self.read_remote()).await
    }

    /// The read as a request. Boxed by its callers, so that their futures stay a few words long: the local path's
    /// futures are created, moved and polled once per call, and a large one costs a copy each time.
    async fn read_remote(&self) -> Result<(T, u64)> {
        let request = ReadVariable {
            service_id: self.service.id().to_owned(),
            variable_name: self.name.clone(),
        };
        match self.service.client().call(request).await? {
            ServerMessage::VariableData(data) => {
                let version = data.version;
                T::decode(data.data)
                    .map(|value| (value, version))
                    .map_err(|e| self.not_of_type(e))
            }
            other => Err(unexpected("ReadVariable", &other)),
        }
    }

    /// Writes the value; returns the new version. Needs `write`.
    pub async fn write(&self, value: T::Arg<'_>) -> Result<u64> {
        if let Some(local) = self.write_local(value, None) {
            return local;
        }
        Box::pin(self.write_remote(value, None)).await
    }

    /// Compare-and-set: writes the value only if the variable is still at `expected_version`, and returns the new
    /// version; otherwise writes nothing and fails with [`Error::Conflict`]. See [`Service::compare_and_set`].
    pub async fn compare_and_set(&self, expected_version: u64, value: T::Arg<'_>) -> Result<u64> {
        if let Some(local) = self.write_local(value, Some(expected_version)) {
            return local;
        }
        Box::pin(self.write_remote(value, Some(expected_version))).await
    }

    /// Replaces the value with `f(current)`, by compare-and-set, reading and trying again while another writer comes
    /// first; returns the new version. `f` may run more than once.
    pub async fn update(&self, mut f: impl FnMut(T) -> T) -> Result<u64>
    where
        T: for<'a> AsArg<'a>,
    {
        loop {
            let (value, version) = self.read_versioned().await?;
            let next = f(value);
            match self.compare_and_set(version, next.as_arg()).await {
                Err(Error::Conflict { .. }) => continue,
                other => return other,
            }
        }
    }

    /// The write as a request; boxed by its callers, as [`read_remote`](Self::read_remote), whose local path runs in
    /// their own body (a nested future costs a construction and a poll per call).
    async fn write_remote(&self, value: T::Arg<'_>, expected_version: Option<u64>) -> Result<u64> {
        let (data, value) = T::payload(value).into_wire();
        let request = WriteVariable {
            service_id: self.service.id().to_owned(),
            variable_name: self.name.clone(),
            data,
            value,
            expected_version,
        };
        match self.service.client().call(request).await? {
            ServerMessage::VariableData(data) => Ok(data.version),
            other => Err(unexpected("WriteVariable", &other)),
        }
    }

    /// Blocks the calling thread until the variable is at another version than `seen_version`, or `timeout` passes;
    /// returns the value and version then, or `None` on a timeout. Writes made through this very handle (from any
    /// thread; not through a clone) do not end the wait: it goes on from the version they published, so a loop that
    /// waits, computes and writes back is not woken by itself. On the local transport the thread sleeps on the
    /// variable's change word in the mapped file (docs/service-file.md, "Change words"), so a write to this variable
    /// in another process wakes it directly (one context switch, as a raw futex; a [`Watch`](crate::Watch) takes a
    /// hop through a watcher thread), and writes to other variables wake it only if they share its change word (one
    /// of 256, by table index). Never call it on an async runtime's worker; the blocking client's
    /// [`Variable::wait_change`](crate::blocking::Variable::wait_change) is the same call, and also works remotely.
    /// Here, on the remote transport, it is [`Error::InvalidRequest`]: use [`Service::watch_variable`] there.
    pub fn wait_change_blocking(&self, seen_version: u64, timeout: std::time::Duration) -> Result<Option<(T, u64)>> {
        let Some(local) = self.live_local() else {
            return Err(Error::InvalidRequest(format!(
                "waiting for variable '{}' in this thread needs the local transport; watch it instead",
                self.name
            )));
        };
        let now = self.with_resolved(local, |resolved| resolved.wait_for_change(seen_version, timeout))?;
        if now == seen_version {
            return Ok(None);
        }
        self.read_local().transpose()
    }

    /// The read on the local transport (`None` on the remote one).
    #[inline]
    pub(crate) fn read_local(&self) -> Option<Result<(T, u64)>> {
        let local = self.live_local()?;
        Some(
            self.with_resolved(local, |resolved| T::read_local(resolved))
                .and_then(|read| read.map_err(|e| self.not_of_type(e))),
        )
    }

    /// The write on the local transport (`None` on the remote one). A read-only mapping fails in the write itself
    /// ([`AccessError::ReadOnly`]), so the fast path asks nothing first.
    #[inline]
    pub(crate) fn write_local(&self, value: T::Arg<'_>, expected_version: Option<u64>) -> Option<Result<u64>> {
        let local = self.live_local()?;
        Some(T::with_bytes(value, |bytes| {
            if T::VALUE_TYPE.is_none() {
                // Raw bytes must still be a value of the variable's type, as the server would check.
                let capacity = self.with_resolved(local, |resolved| Ok(resolved.capacity()))?;
                if let Err(e) = self.value_type.check_bytes(bytes, capacity) {
                    return Err(Error::InvalidRequest(format!("variable '{}': {e}", self.name)));
                }
            }
            self.with_resolved(local, |resolved| match expected_version {
                Some(expected) => resolved.write_if_version(expected, bytes),
                None => resolved.write(bytes),
            })
        }))
    }

    /// The local state, unless the client failed over from the mapped file's server (then calls are requests).
    fn live_local(&self) -> Option<&Local> {
        self.local.as_ref().filter(|local| !local.mapped.is_detached())
    }

    /// Runs `op` on the resolution in the mapping's current file. If the variable was freed (perhaps allocated again
    /// under the same name), resolves the name again, checking its type, and retries once. If the service moved to a
    /// new file (a write met the old file's retired lock), waits for the mapping to follow the move, resolves in the
    /// new file, and retries once.
    #[inline]
    fn with_resolved<R>(
        &self,
        local: &Local,
        op: impl Fn(&Resolved) -> std::result::Result<R, AccessError>,
    ) -> Result<R> {
        let resolution = self.current(local)?;
        match op(&resolution.resolved) {
            Ok(done) => Ok(done),
            Err(e) => self.retry(local, resolution, e, op),
        }
    }

    /// The slow path of [`with_resolved`](Self::with_resolved): `op` failed on `resolution` with `err`.
    #[cold]
    #[inline(never)]
    fn retry<R>(
        &self,
        local: &Local,
        resolution: &Resolution,
        err: AccessError,
        op: impl Fn(&Resolved) -> std::result::Result<R, AccessError>,
    ) -> Result<R> {
        let failed = |e| local.mapped.failed(&self.name, e);
        match err {
            AccessError::Stale => {
                resolve_again::<T>(&local.mapped, &resolution.resolved, &self.name)?;
                op(&resolution.resolved).map_err(failed)
            }
            AccessError::Moved => {
                let started = std::time::Instant::now();
                while local.mapped.generation() == resolution.generation && started.elapsed() < FOLLOW_MOVE_WAIT {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                op(&self.current(local)?.resolved).map_err(failed)
            }
            other => Err(failed(other)),
        }
    }

    /// The resolution in the mapping's current file: the stored one while the file is the same (one pointer load and
    /// one compare), else a new one, resolved in the new file.
    #[inline]
    fn current<'a>(&self, local: &'a Local) -> Result<&'a Resolution> {
        let resolution = local.resolved.get();
        if resolution.generation == local.mapped.generation() {
            return Ok(resolution);
        }
        self.follow_move(local)
    }

    #[cold]
    #[inline(never)]
    fn follow_move<'a>(&self, local: &'a Local) -> Result<&'a Resolution> {
        let generation = local.mapped.generation();
        local.resolved.store_unless(
            |stored| stored.generation == generation,
            || {
                let resolved = resolve::<T>(&local.mapped, &self.name)?;
                Ok(Resolution { generation, resolved })
            },
        )
    }

    fn not_of_type(&self, found: NotOfType) -> Error {
        Error::InvalidRequest(format!(
            "variable '{}' in service '{}' holds {} bytes, which are not a {} value",
            self.name,
            self.service.name(),
            found.len,
            T::VALUE_TYPE.map_or("bytes", ValueType::as_str)
        ))
    }
}

/// A value as the argument its own type's writes take, for [`Variable::update`].
pub trait AsArg<'a>: VariableValue {
    /// `self` as [`Variable::write`] takes it.
    fn as_arg(&'a self) -> <Self as Codec>::Arg<'a>;
}

macro_rules! copy_as_arg {
    ($($ty:ty),*) => {$(
        impl<'a> AsArg<'a> for $ty {
            fn as_arg(&'a self) -> $ty {
                *self
            }
        }
    )*};
}

copy_as_arg!(u64, i64, f64, bool);

impl<'a> AsArg<'a> for String {
    fn as_arg(&'a self) -> &'a str {
        self
    }
}

impl<'a> AsArg<'a> for Vec<u8> {
    fn as_arg(&'a self) -> &'a [u8] {
        self
    }
}
