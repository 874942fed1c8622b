//! [`VariableValue`]: the Rust types a [`Variable`](crate::Variable) handle reads and writes, each tied to one
//! variable type (or, for `Vec<u8>`, to any).

use crate::payload::Payload;
use commy_proto::ValueType;
use commy_shm::{AccessError, Resolved};

/// A value a [`Variable`](crate::Variable) handle reads and writes: `u64`, `i64`, `f64`, `bool` and `String` for the
/// variable types of the same names, and `Vec<u8>` for the raw bytes of a variable of any type. Sealed: the SDK
/// implements it for exactly these.
pub trait VariableValue: sealed::Codec {}

pub(crate) use sealed::NotOfType;

pub(crate) mod sealed {
    use super::*;

    /// What a typed read found in the file or a reply: bytes that are not a value of the type (the variable changed
    /// type since it was resolved, or its bytes are damaged).
    #[derive(Debug)]
    pub struct NotOfType {
        pub(crate) len: usize,
    }

    /// How one Rust type travels in a variable's bytes. Fixed-size types read into a buffer on the stack and write
    /// from one, so a local read or write through a handle allocates nothing.
    pub trait Codec: Sized + Send + 'static {
        /// The variable type the value is stored as; `None` for raw bytes, which fit any.
        const VALUE_TYPE: Option<ValueType>;
        /// What a write takes: the value itself for numbers and `bool`, a borrowed `str` or byte slice otherwise.
        type Arg<'a>: Copy;
        /// The stored bytes of `arg`, handed to `f`.
        fn with_bytes<R>(arg: Self::Arg<'_>, f: impl FnOnce(&[u8]) -> R) -> R;
        /// `arg` as a remote write sends it: a JSON value where it has one, so that the server checks it against the
        /// variable's type as it is now (it may have been allocated again with another type since the handle was
        /// made), and the bytes otherwise.
        fn payload(arg: Self::Arg<'_>) -> Payload;
        /// The value in `bytes`.
        fn decode(bytes: Vec<u8>) -> Result<Self, NotOfType>;
        /// One read through a resolution: the value and its version. `Ok(Err(_))` when the bytes are not of the type.
        fn read_local(resolved: &Resolved) -> Result<Result<(Self, u64), NotOfType>, AccessError> {
            let (bytes, version) = resolved.read()?;
            Ok(Self::decode(bytes).map(|value| (value, version)))
        }
    }
}

/// Reads an `N`-byte value into a buffer on the stack; `Ok(Err(_))` if the variable holds another length.
fn read_fixed<const N: usize>(resolved: &Resolved) -> Result<Result<([u8; N], u64), NotOfType>, AccessError> {
    let mut buf = [0u8; N];
    match resolved.read_into(&mut buf) {
        Ok(got) if got.len == N => Ok(Ok((buf, got.version))),
        Ok(got) => Ok(Err(NotOfType { len: got.len })),
        Err(AccessError::BufferTooSmall { needed, .. }) => Ok(Err(NotOfType { len: needed })),
        Err(other) => Err(other),
    }
}

macro_rules! eight_byte_value {
    ($($ty:ty => $value_type:ident),* $(,)?) => {$(
        impl VariableValue for $ty {}

        impl sealed::Codec for $ty {
            const VALUE_TYPE: Option<ValueType> = Some(ValueType::$value_type);
            type Arg<'a> = $ty;

            fn with_bytes<R>(arg: $ty, f: impl FnOnce(&[u8]) -> R) -> R {
                f(&arg.to_le_bytes())
            }

            fn payload(arg: $ty) -> Payload {
                Payload::from(arg)
            }

            fn decode(bytes: Vec<u8>) -> Result<$ty, NotOfType> {
                let len = bytes.len();
                let eight: [u8; 8] = bytes.try_into().map_err(|_| NotOfType { len })?;
                Ok(<$ty>::from_le_bytes(eight))
            }

            fn read_local(resolved: &Resolved) -> Result<Result<($ty, u64), NotOfType>, AccessError> {
                Ok(read_fixed::<8>(resolved)?.map(|(bytes, version)| (<$ty>::from_le_bytes(bytes), version)))
            }
        }
    )*};
}

eight_byte_value!(u64 => U64, i64 => I64, f64 => F64);

impl VariableValue for bool {}

impl sealed::Codec for bool {
    const VALUE_TYPE: Option<ValueType> = Some(ValueType::Bool);
    type Arg<'a> = bool;

    fn with_bytes<R>(arg: bool, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&[u8::from(arg)])
    }

    fn payload(arg: bool) -> Payload {
        Payload::from(arg)
    }

    fn decode(bytes: Vec<u8>) -> Result<bool, NotOfType> {
        match bytes.as_slice() {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(NotOfType { len: bytes.len() }),
        }
    }

    fn read_local(resolved: &Resolved) -> Result<Result<(bool, u64), NotOfType>, AccessError> {
        Ok(read_fixed::<1>(resolved)?.and_then(|([byte], version)| match byte {
            0 | 1 => Ok((byte == 1, version)),
            _ => Err(NotOfType { len: 1 }),
        }))
    }
}

impl VariableValue for String {}

impl sealed::Codec for String {
    const VALUE_TYPE: Option<ValueType> = Some(ValueType::String);
    type Arg<'a> = &'a str;

    fn with_bytes<R>(arg: &str, f: impl FnOnce(&[u8]) -> R) -> R {
        f(arg.as_bytes())
    }

    fn payload(arg: &str) -> Payload {
        Payload::from(arg)
    }

    fn decode(bytes: Vec<u8>) -> Result<String, NotOfType> {
        let len = bytes.len();
        String::from_utf8(bytes).map_err(|_| NotOfType { len })
    }
}

impl VariableValue for Vec<u8> {}

impl sealed::Codec for Vec<u8> {
    const VALUE_TYPE: Option<ValueType> = None;
    type Arg<'a> = &'a [u8];

    fn with_bytes<R>(arg: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
        f(arg)
    }

    fn payload(arg: &[u8]) -> Payload {
        Payload::from(arg)
    }

    fn decode(bytes: Vec<u8>) -> Result<Vec<u8>, NotOfType> {
        Ok(bytes)
    }
}
