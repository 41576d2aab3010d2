# Create the database
set-psdebug -strict
$error[0]|format-list -force
