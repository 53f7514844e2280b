//! How the typed ids of the payloads are declared: a UUID newtype, written on the wire
//! as the hyphenated string, with conversions to and from [`uuid::Uuid`].

/// Declares a UUID newtype with its serde, schema, display and parsing impls. With
/// `fresh`, it also gets `new()` (and `Default`): a fresh time-ordered id (UUID v7);
/// without, ids come from elsewhere (e.g. derived from a name).
macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $crate::ids::uuid_id!(@common $(#[$meta])* $name);

        impl $name {
            /// A fresh, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(::uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
    };
    (derived $(#[$meta:meta])* $name:ident) => {
        $crate::ids::uuid_id!(@common $(#[$meta])* $name);
    };
    (@common $(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            ::serde::Serialize, ::serde::Deserialize, ::schemars::JsonSchema,
        )]
        #[serde(transparent)]
        pub struct $name(pub ::uuid::Uuid);

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                ::uuid::Uuid::try_parse(s).map(Self)
            }
        }

        impl From<::uuid::Uuid> for $name {
            fn from(id: ::uuid::Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for ::uuid::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

pub(crate) use uuid_id;
