# escape=`

FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS tools
COPY testfile.txt c:\
RUN dir c:\
FROM mcr.microsoft.com/windows/nanoserver:ltsc2022
COPY --from=tools c:\testfile.txt c:\
RUN powershell -Command `
    Write-Host "done"
