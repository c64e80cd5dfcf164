//! `range_adapter!`: `intrusive_adapter!` with the link field's type checked.

/// Declares the adapter of a segment type, as
/// [`intrusive_adapter!`](intrusive_collections::intrusive_adapter) does,
/// and checks at compile time that the named field is a
/// [`RangeLink`](crate::RangeLink).
///
/// `intrusive_adapter!(A = Box<Vma>: Vma { link: RangeLink })` trusts the
/// type written after the field name: naming a field of another type
/// compiles, and the map then reads and writes a `RangeLink` over whatever
/// that field and the bytes after it hold, which is undefined behaviour.
/// This macro takes the field name alone and refuses to compile unless the
/// field is a `RangeLink`.
///
/// The forms are those of `intrusive_adapter!` with lifetime parameters:
/// `Name = Pointer: Value { field }` and `Name<'a> = Pointer: Value { field }`,
/// with an optional visibility and attributes in front.
///
/// # Examples
///
/// ```
/// use range_action_map::{range_adapter, RangeLink};
///
/// pub struct Vma {
///     link: RangeLink,
///     prot: u8,
/// }
/// range_adapter!(pub VmaAdapter = Box<Vma>: Vma { link });
///
/// struct Borrowed<'a> {
///     link: RangeLink,
///     name: &'a str,
/// }
/// range_adapter!(BorrowedAdapter<'a> = &'a Borrowed<'a>: Borrowed<'a> { link });
/// ```
///
/// A field of the wrong type does not compile:
///
/// ```compile_fail
/// use range_action_map::{range_adapter, RangeLink};
///
/// struct Vma {
///     link: RangeLink,
///     prot: u8,
/// }
/// range_adapter!(VmaAdapter = Box<Vma>: Vma { prot });
/// ```
#[macro_export]
macro_rules! range_adapter {
    (
        $(#[$attr:meta])* $vis:vis $name:ident $(<$($lifetime:lifetime),+>)?
        = $pointer:ty : $value:path { $field:ident }
    ) => {
        // The arm `intrusive_adapter!` expands to: its public arms call it
        // by a bare name, which would have to be in scope at the call site.
        $crate::intrusive_collections::intrusive_adapter!(@impl
            $(#[$attr])* $vis $name ($($($lifetime),+)?)
            = $pointer : $value { $field: $crate::RangeLink }
        );
        // Compiles only if `$field` is a `RangeLink`.
        const _: for<'value $(, $($lifetime),+)?> fn(&'value $value) -> &'value $crate::RangeLink =
            |value| &value.$field;
    };
}
