-- Tenancy (issue 13): the name and language an admin typed when naming a person. Until the
-- person signs in after being added, this contract's admins see the name they typed, not the
-- one the person keeps for themself on another company's contract; a person's own language
-- is never shown to another company's admins.
ALTER TABLE memberships ADD COLUMN typed_first_name TEXT;
ALTER TABLE memberships ADD COLUMN typed_last_name TEXT;
ALTER TABLE memberships ADD COLUMN typed_language TEXT;
