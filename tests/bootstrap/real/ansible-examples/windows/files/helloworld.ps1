# Filename: helloworld.ps1
Write-Host
Write-Host 'Hello World!'
