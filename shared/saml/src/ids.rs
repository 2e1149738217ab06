//! Step 2: every ID value in the document is unique.
//!
//! XML-DSig resolves `URI="#x"` by ID. With two elements carrying `x`, which one was digested
//! depends on the resolver, and which one is read depends on the reader: the root of most
//! signature-wrapping attacks. bergshamra registers `ID`, `Id`, `id` and `AssertionID`
//! (any namespace, and `xml:id`); we refuse duplicates across that whole set.

use crate::error::Error;
use std::collections::HashSet;
use uppsala::Document;

const ID_NAMES: [&str; 4] = ["ID", "Id", "id", "AssertionID"];

pub(crate) fn check_unique_ids(doc: &Document<'_>) -> Result<(), Error> {
    let mut seen: HashSet<&str> = HashSet::new();
    for node in doc.descendants(doc.root()) {
        let Some(element) = doc.element(node) else {
            continue;
        };
        for attribute in &element.attributes {
            if ID_NAMES.contains(&attribute.name.local_name.as_ref())
                && !seen.insert(attribute.value.as_ref())
            {
                return Err(Error::DuplicateId(attribute.value.to_string()));
            }
        }
    }
    Ok(())
}
