//! Request tracking and alert planning (pure).
