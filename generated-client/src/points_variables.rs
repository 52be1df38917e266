//! `.variables(…)` on the points operations' builders: the client fills the
//! constant `query` and `tag` (their defaults come from the overlay), so a
//! caller builds only the `variables`.

use crate::builder::{CancelPoints, FetchPoints, SendPoints};
use crate::types::{CancelPointsBodyVariables, FetchPointsBodyVariables, SendPointsBodyVariables};

macro_rules! variables_setter {
    ($builder:ident, $variables:ty) => {
        impl $builder<'_> {
            /// Sets the body's `variables`; `query` and `tag` are filled in.
            pub fn variables<V>(self, variables: V) -> Self
            where
                V: TryInto<$variables>,
                V::Error: std::fmt::Display,
            {
                self.body_map(|body| body.variables(variables))
            }
        }
    };
}

variables_setter!(FetchPoints, FetchPointsBodyVariables);
variables_setter!(SendPoints, SendPointsBodyVariables);
variables_setter!(CancelPoints, CancelPointsBodyVariables);
