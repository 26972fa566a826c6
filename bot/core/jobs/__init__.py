"""The jobs feature: submit, status, list, cancel, tail, resources, history, the submit form's
data, and a user's Home (their jobs next to their watches and reports)."""
