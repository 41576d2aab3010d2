$scriptName = $MyInvocation.MyCommand.Name
$artifacts = "./artifacts"

