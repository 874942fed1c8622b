//! The macro that declares [`ClientMessage`](crate::ClientMessage) and [`ServerMessage`](crate::ServerMessage).
//!
//! Each variant wraps one payload struct, and the variant's name is the `type` on the wire. The macro writes, from
//! one list of variants: the enum, `TYPES`, `type_name()`, `From<Payload>` for each variant, the serialization of the
//! payload as `data`, and the dispatch from a `type` name to the payload's decoder; for requests, `names()` from each payload's `Names`.

/// A message enum whose variants each wrap one payload struct (implemented by `message_enum!`).
pub(crate) trait MessageEnum: Sized {
    /// Every variant's name.
    const TYPES: &'static [&'static str];

    /// Serializes the payload alone: the envelope's `data`.
    fn serialize_data<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;

    /// Decodes the payload of the message named `type_name`; `None` if no variant has that name.
    fn from_payload<P: PayloadSource>(type_name: &str, source: P) -> Option<Result<Self, P::Error>>;
}

/// Where the payload of one message comes from, when decoding: something that can produce any payload type.
pub(crate) trait PayloadSource {
    /// Why the payload could not be produced.
    type Error;

    /// Decodes the payload as `T`.
    fn payload<T: serde::de::DeserializeOwned>(self) -> Result<T, Self::Error>;
}

macro_rules! message_enum {
    // The request enum: also `names()`, from each payload's `Names`.
    (
        names;
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($payload:ty), )*
        }
    ) => {
        $crate::message_enum::message_enum! {
            $(#[$meta])*
            pub enum $name {
                $( $(#[$vmeta])* $variant($payload), )*
            }
        }

        impl $name {
            /// The tenant, service and variable names this request carries, for the names rule.
            pub fn names(&self) -> $crate::RequestNames<'_> {
                match self {
                    $( Self::$variant(payload) => $crate::Names::names(payload), )*
                }
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($payload:ty), )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant($payload), )*
        }

        impl $name {
            /// Every message type name, as it appears in the envelope's `type`.
            pub const TYPES: &'static [&'static str] = &[$(stringify!($variant)),*];

            /// This message's type name, as it appears in the envelope's `type`.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => stringify!($variant), )*
                }
            }
        }

        impl $crate::message_enum::MessageEnum for $name {
            const TYPES: &'static [&'static str] = $name::TYPES;

            fn serialize_data<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Self::$variant(payload) => serde::Serialize::serialize(payload, serializer), )*
                }
            }

            fn from_payload<P: $crate::message_enum::PayloadSource>(
                type_name: &str,
                source: P,
            ) -> Option<Result<Self, P::Error>> {
                match type_name {
                    $( stringify!($variant) => Some(source.payload::<$payload>().map(Self::$variant)), )*
                    _ => None,
                }
            }
        }

        /// Serializes as `{"type": ..., "data": {...}}`, the envelope without an `id`.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $crate::envelope::serialize_envelope(serializer, self.type_name(), &$crate::envelope::Data(self), None)
            }
        }

        $(
            impl From<$payload> for $name {
                fn from(payload: $payload) -> Self {
                    Self::$variant(payload)
                }
            }
        )*
    };
}

pub(crate) use message_enum;
