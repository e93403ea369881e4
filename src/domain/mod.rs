//! The pure domain: calendar arithmetic, classification and SLA decisions.
//! Everything here takes time as a parameter and performs no I/O.

pub mod calendar;
pub mod classify;
pub mod digest;
pub mod faq;
pub mod hours;
pub mod receipts;
pub mod render;
pub mod schedule;
pub mod sla;
pub mod starts;
pub mod survey;
pub mod survey_text;
pub mod template;
