import { NgModule } from '@angular/core';
