//! The first, lenient pass over a message: find `type` and `id` whatever the rest holds, so that an error about the
//! payload can still name the message and echo the `id`.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The envelope's `type` and `id`, as found. `data` and unknown fields are skipped (but checked to be well-formed).
#[derive(Debug, Default)]
pub(super) struct Head {
    pub(super) type_field: Field,
    pub(super) id_field: Field,
}

/// A field of the envelope as found, whatever its kind.
#[derive(Debug, Default, PartialEq)]
pub(super) enum Field {
    /// Not in the message.
    #[default]
    Missing,
    /// `null` (or MessagePack nil).
    Null,
    /// A string.
    Str(String),
    /// A non-negative integer.
    U64(u64),
    /// Anything else, described for an error message: `-1`, `1.5`, `true`, `an array`, ...
    Other(String),
}

impl Field {
    /// Describes the field's value for an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            Field::Missing => "nothing".to_owned(),
            Field::Null => "null".to_owned(),
            Field::Str(s) => format!("{s:?}"),
            Field::U64(n) => n.to_string(),
            Field::Other(description) => description.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeadVisitor)
    }
}

struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Head;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with `type`, `data` and an optional `id`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        let mut head = Head::default();
        while let Some(key) = map.next_key::<Field>()? {
            let slot = match &key {
                Field::Str(name) if name == "type" => &mut head.type_field,
                Field::Str(name) if name == "id" => &mut head.id_field,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if *slot != Field::Missing {
                return Err(de::Error::custom(format_args!(
                    "duplicate field `{}`",
                    key.describe().trim_matches('"')
                )));
            }
            *slot = map.next_value::<Field>()?;
        }
        Ok(head)
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Field, E> {
        Ok(Field::Other(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field, E> {
        Ok(u64::try_from(v).map_or_else(|_| Field::Other(v.to_string()), Field::U64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field, E> {
        Ok(Field::U64(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Field, E> {
        Ok(u64::try_from(v).map_or_else(|_| Field::Other(v.to_string()), Field::U64))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Field, E> {
        Ok(u64::try_from(v).map_or_else(|_| Field::Other(v.to_string()), Field::U64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field, E> {
        Ok(Field::Other(format!("{v:?}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
        Ok(Field::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Field, E> {
        Ok(Field::Str(v))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Field, E> {
        Ok(Field::Other("bytes".to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Field, E> {
        Ok(Field::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Field, E> {
        Ok(Field::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Other("an array".to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Other("an object".to_owned()))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        IgnoredAny::deserialize(deserializer)?;
        Ok(Field::Other("an extension value".to_owned()))
    }
}
