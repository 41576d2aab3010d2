using System;
using System.IO;
using System.Threading.Tasks;
using Lamar;
