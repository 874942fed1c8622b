//! Typed reads and writes on a [`Service`]: numbers, `bool`, strings, JSON through serde, raw bytes, and
//! plain-old-data structs through `bytemuck::Pod`.

use crate::payload::Payload;
use crate::service::Service;
use crate::Result;
use bytemuck::Pod;
use serde::de::DeserializeOwned;
use serde::Serialize;

impl Service {
    /// Reads a `u64`.
    pub async fn read_u64(&self, name: &str) -> Result<u64> {
        self.read(name).await?.as_u64()
    }

    /// Writes a `u64`; returns the new version.
    pub async fn write_u64(&self, name: &str, value: u64) -> Result<u64> {
        self.write(name, value).await
    }

    /// Reads an `i64`.
    pub async fn read_i64(&self, name: &str) -> Result<i64> {
        self.read(name).await?.as_i64()
    }

    /// Writes an `i64`; returns the new version.
    pub async fn write_i64(&self, name: &str, value: i64) -> Result<u64> {
        self.write(name, value).await
    }

    /// Reads an `f64`.
    pub async fn read_f64(&self, name: &str) -> Result<f64> {
        self.read(name).await?.as_f64()
    }

    /// Writes an `f64`; returns the new version.
    pub async fn write_f64(&self, name: &str, value: f64) -> Result<u64> {
        self.write(name, value).await
    }

    /// Reads a `bool`.
    pub async fn read_bool(&self, name: &str) -> Result<bool> {
        self.read(name).await?.as_bool()
    }

    /// Writes a `bool`; returns the new version.
    pub async fn write_bool(&self, name: &str, value: bool) -> Result<u64> {
        self.write(name, value).await
    }

    /// Reads UTF-8 text.
    pub async fn read_string(&self, name: &str) -> Result<String> {
        self.read(name).await?.as_str().map(str::to_owned)
    }

    /// Writes text to a `string` variable; returns the new version.
    pub async fn write_string(&self, name: &str, value: &str) -> Result<u64> {
        self.write(name, value).await
    }

    /// Reads a `json` variable into `T`.
    pub async fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        self.read(name).await?.json()
    }

    /// Writes `value`, serialised, to a `json` variable; returns the new version.
    pub async fn write_json<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<u64> {
        self.write(name, Payload::json(value)?).await
    }

    /// Reads the raw bytes.
    pub async fn read_bytes(&self, name: &str) -> Result<Vec<u8>> {
        Ok(self.read(name).await?.bytes)
    }

    /// Writes raw bytes; returns the new version.
    pub async fn write_bytes(&self, name: &str, value: &[u8]) -> Result<u64> {
        self.write(name, value).await
    }

    /// Reads a plain-old-data value; the variable must hold exactly `size_of::<T>()` bytes.
    pub async fn read_pod<T: Pod>(&self, name: &str) -> Result<T> {
        self.read(name).await?.pod()
    }

    /// Writes a plain-old-data value as its bytes; returns the new version.
    pub async fn write_pod<T: Pod>(&self, name: &str, value: &T) -> Result<u64> {
        self.write(name, Payload::pod(value)).await
    }
}
